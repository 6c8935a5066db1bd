#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO

/// Socket set-up shared by the server and the client. IPv4 and IPv6 literal addresses and `localhost`.
enum Sockets {
    /// A resolved socket address.
    struct Address {
        var storage = sockaddr_storage()
        var length: socklen_t = 0
        var family: Int32 { Int32(storage.ss_family) }
    }

    /// Resolves `host` (an IP literal or a name, via getaddrinfo) and `port`.
    static func resolve(host: String, port: Int) throws(IOError) -> Address {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let info = result else { throw IOError("getaddrinfo", errno: EHOSTUNREACH) }
        defer { freeaddrinfo(result) }
        var address = Address()
        // Prefer IPv4 for `localhost` so it matches servers bound to 127.0.0.1.
        var chosen = info
        var cursor: UnsafeMutablePointer<addrinfo>? = info
        while let c = cursor {
            if c.pointee.ai_family == AF_INET { chosen = c; break }
            cursor = c.pointee.ai_next
        }
        withUnsafeMutableBytes(of: &address.storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: chosen.pointee.ai_addr, count: Int(chosen.pointee.ai_addrlen)))
        }
        address.length = chosen.pointee.ai_addrlen
        return address
    }

    /// A non-blocking listening socket bound to host:port (port 0 picks an ephemeral port).
    static func listen(host: String, port: Int, backlog: Int32 = 1024) throws(IOError) -> Int32 {
        var address = try resolve(host: host, port: port)
        let fd = try blockingSyscall("socket") {
            socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let length = address.length
        let bound = withUnsafePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        if bound != 0 {
            let err = errno
            close(fd)
            throw IOError("bind", errno: err)
        }
        if Glibc.listen(fd, backlog) != 0 {
            let err = errno
            close(fd)
            throw IOError("listen", errno: err)
        }
        return fd
    }

    /// The port a socket is bound to.
    static func localPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return port(of: storage)
    }

    static func port(of storage: sockaddr_storage) -> Int {
        var s = storage
        switch Int32(s.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return 0
        }
    }

    /// `ip:port` text of a peer address, for logs and rate limiting.
    static func describe(_ storage: sockaddr_storage) -> String {
        var s = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(s.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &s) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin -> String in
                    var addr = sin.pointee.sin_addr
                    inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
                    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &s) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin -> String in
                    var addr = sin.pointee.sin6_addr
                    inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
                    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                }
            }
        default:
            return "unknown"
        }
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// SO_RCVTIMEO: a blocking recv gives up (EAGAIN) after `timeout`.
    static func setReceiveTimeout(_ fd: Int32, _ timeout: Duration) {
        let nanos = timeout.nanoseconds
        var tv = timeval(tv_sec: Int(nanos / 1_000_000_000), tv_usec: Int((nanos % 1_000_000_000) / 1_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Connects with a timeout, returning a blocking socket with TCP_NODELAY.
    static func connect(host: String, port: Int, timeoutMillis: Int32) throws(IOError) -> Int32 {
        var address = try resolve(host: host, port: port)
        let fd = try blockingSyscall("socket") {
            socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        let length = address.length
        let rc = withUnsafePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        if rc != 0 {
            let err = errno
            guard err == EINPROGRESS || err == EINTR else {
                close(fd)
                throw IOError("connect", errno: err)
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&pfd, 1, timeoutMillis)
            if ready <= 0 {
                close(fd)
                throw IOError("connect", errno: ready == 0 ? ETIMEDOUT : errno)
            }
            var soError: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
            if soError != 0 {
                close(fd)
                throw IOError("connect", errno: soError)
            }
        }
        // Back to blocking mode: the client uses poll() for its timeouts.
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        setNoDelay(fd)
        return fd
    }
}
