/// Decoder options.
public struct JSONDecodingOptions: Sendable, Hashable {
    /// Limits on depth and sizes.
    public var limits: JSONLimits
    /// Duplicate key policy (default `.reject`).
    public var duplicateKeys: DuplicateKeyPolicy

    /// Creates options.
    public init(limits: JSONLimits = .default, duplicateKeys: DuplicateKeyPolicy = .reject) {
        self.limits = limits
        self.duplicateKeys = duplicateKeys
    }

    /// Default options: default limits, duplicates rejected.
    public static let `default` = JSONDecodingOptions()
}
