#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: the function's name and errno. `description` names both, never data.
public struct IOError: Error, Sendable, Equatable, CustomStringConvertible {
    public var function: String
    public var errno: Int32
    public init(_ function: String, errno: Int32) {
        self.function = function
        self.errno = errno
    }
    public var description: String {
        let message = strerror(errno).map { String(cString: $0) } ?? "errno \(errno)"
        return "\(function) failed: \(message)"
    }
}

/// Runs a system call, retrying on EINTR, mapping EAGAIN to `.wouldBlock`, throwing for anything else.
@inline(__always)
func syscall<T: BinaryInteger>(_ function: String, _ body: () -> T) throws(IOError) -> SyscallResult<T> {
    while true {
        let result = body()
        if result >= 0 { return .done(result) }
        let err = Glibc.errno
        switch err {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        default: throw IOError(function, errno: err)
        }
    }
}

/// Runs a blocking system call, retrying on EINTR, throwing otherwise.
@inline(__always)
func blockingSyscall<T: BinaryInteger>(_ function: String, _ body: () -> T) throws(IOError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let err = Glibc.errno
        if err == EINTR { continue }
        throw IOError(function, errno: err)
    }
}
