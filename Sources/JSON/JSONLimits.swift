/// Limits applied while decoding; each one breached gives its own `JSONError.Kind`.
public struct JSONLimits: Sendable, Hashable {
    /// Maximum nesting of arrays and objects.
    public var maxDepth: Int
    /// Maximum length of one string, in UTF-8 bytes after unescaping.
    public var maxStringLength: Int
    /// Maximum size of the whole document in bytes.
    public var maxTotalSize: Int
    /// Maximum number of elements in one array or members in one object.
    public var maxElementCount: Int

    /// Creates limits; the defaults suit SCIM request bodies.
    public init(maxDepth: Int = 64, maxStringLength: Int = 1 << 20, maxTotalSize: Int = 16 << 20,
                maxElementCount: Int = 1_000_000) {
        self.maxDepth = maxDepth
        self.maxStringLength = maxStringLength
        self.maxTotalSize = maxTotalSize
        self.maxElementCount = maxElementCount
    }

    /// The default limits.
    public static let `default` = JSONLimits()
}
