#if canImport(Glibc)
import Glibc
#endif
import NetIO
import Locking
import Lifecycle

/// A TCP listener on loopback that accepts every connection and reads what arrives, but never answers: a backend
/// that is up as far as TCP can tell and hung as far as HTTP can.
public final class SilentListener: @unchecked Sendable {
    // @unchecked: fields set once in init; the thread's state is its own.
    public let port: Int
    private let fd: Int32
    private let stop = ConditionLock<Bool>(false)
    private let acceptedCount = ConditionLock<Int>(0)
    private var thread: ThreadHandle? = nil

    public init() throws {
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listenFD, 128) == 0 else { throw RawError.failed("silent listener") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &length) }
        }
        fd = listenFD
        port = Int(UInt16(bigEndian: address.sin_port))
        let accepted = self.acceptedCount
        let stop = self.stop
        thread = ThreadHandle.start(name: "silent") {
            var clients: [Int32] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !stop.withLock({ $0 }) {
                var pfd = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
                if poll(&pfd, 1, 20) > 0 {
                    let c = accept(listenFD, nil, nil)
                    if c >= 0 {
                        clients.append(c)
                        accepted.withLock { $0 += 1 }
                    }
                }
                for c in clients { _ = recv(c, &buffer, buffer.count, Int32(MSG_DONTWAIT)) }
            }
            for c in clients { Glibc.close(c) }
        }
    }

    /// Connections accepted so far.
    public var accepted: Int { acceptedCount.withLock { $0 } }

    /// Closes the listener and every accepted connection (the clients see them close); later calls do nothing.
    public func close() {
        let first = stop.withLock { stopped -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        thread?.join()
        Glibc.close(fd)
    }
}
