#if canImport(Glibc)
import Glibc
#endif

/// The result of a non-blocking system call.
enum SyscallResult<T> {
    case done(T)
    case wouldBlock
}
