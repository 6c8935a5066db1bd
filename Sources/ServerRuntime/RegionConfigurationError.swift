#if canImport(Glibc)
import Glibc
#endif
import JSON
import Flags

/// A configuration error that names the file and the field.
public struct RegionConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public var file: String
    public var field: String?
    public var message: String
    public var description: String {
        if let field { return "\(file): \(field) \(message)" }
        return "\(file): \(message)"
    }
}
