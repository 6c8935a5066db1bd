/// Why a request could not be read, with the status the server answers before closing the connection.
/// `message` is a fixed phrase: it never echoes request bytes.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPStatus
    public var message: String
    public init(_ status: HTTPStatus, _ message: String) {
        self.status = status
        self.message = message
    }
    public var description: String { "\(status.code): \(message)" }
}
