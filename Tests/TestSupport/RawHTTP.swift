#if canImport(Glibc)
import Glibc
#endif
public import HTTPCore

/// A deliberately low-level client for tests: writes exactly the bytes given and parses what comes back,
/// so tests can send malformed, pipelined, partial or slow requests.
public final class RawConnection {
    public let fd: Int32
    private var parser = ResponseParser()
    public private(set) var closedByPeer = false

    /// `source`: a local address to send from (any of 127.0.0.0/8 works on Linux), e.g. to act as another client.
    public init(port: Int, host: String = "127.0.0.1", source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawError.failed("socket") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { close(fd); throw RawError.failed("bind \(source) errno \(errno)") }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw RawError.failed("connect errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RawError.failed("send errno \(errno)")
            }
            offset += n
        }
    }

    /// Half-closes the write side (the server sees end of stream).
    public func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Reads until one complete response arrives; nil if the peer closed first or nothing came within the timeout.
    public func readResponse(timeoutMillis: Int32 = 5000, head: Bool = false) throws -> HTTPResponse? {
        parser.expectingHeadResponse = head
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            switch parser.next() {
            case .response(let r, _): return r
            case .failed(let e): throw RawError.failed("bad response: \(e)")
            case .needMoreData: break
            }
            if closedByPeer { return nil }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, timeoutMillis)
            if ready == 0 { return nil }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.withUnsafeBytes { parser.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            } else if n == 0 {
                closedByPeer = true
                if case .response(let r, _) = parser.endOfStream() { return r }
            } else if errno == ECONNRESET {
                closedByPeer = true
            } else if errno != EINTR {
                throw RawError.failed("recv errno \(errno)")
            }
        }
    }

    /// True when the peer closes the connection within the timeout (reading and discarding any bytes).
    public func waitForClose(timeoutMillis: Int32 = 5000) -> Bool {
        if closedByPeer { return true }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = monotonicMillis() + Int(timeoutMillis)
        while monotonicMillis() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, Int32(max(1, deadline - monotonicMillis()))) <= 0 { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 || (n < 0 && errno == ECONNRESET) { closedByPeer = true; return true }
        }
        return false
    }
}

public enum RawError: Error, CustomStringConvertible {
    case failed(String)
    public var description: String {
        switch self { case .failed(let m): m }
    }
}

public func monotonicMillis() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

/// Sleeps the calling thread.
public func sleepMillis(_ ms: Int) {
    usleep(UInt32(ms * 1000))
}
