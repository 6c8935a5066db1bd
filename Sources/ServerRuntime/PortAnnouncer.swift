public import NetIO
public import Lifecycle

/// A pseudo-service that writes the server's bound port to a file once it listens (`--port-file`).
public struct PortAnnouncer: Service {
    public let server: HTTPServer
    public let path: String?
    public var name: String { "port-file" }

    public init(server: HTTPServer, path: String?) {
        self.server = server
        self.path = path
    }

    public func start() throws {
        if let path { try writePortFile(path, port: server.port) }
    }

    public func shutdown(gracePeriod: Duration) {}
}
