#if canImport(Glibc)
import Glibc
#endif

/// A usage error: the message is printed with the usage line and the process exits with status 2.
public struct UsageError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
