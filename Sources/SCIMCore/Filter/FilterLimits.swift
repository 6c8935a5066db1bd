public import JSON

/// Limits on filter text and structure; breaching one gives `400 invalidFilter` naming the limit.
public struct FilterLimits: Sendable, Hashable {
    /// Maximum filter length in bytes.
    public var maxLength: Int
    /// Maximum number of AST nodes.
    public var maxNodes: Int
    /// Maximum nesting depth (parentheses, `not`, value paths).
    public var maxDepth: Int
    /// Accept unquoted string values (`externalId eq jyoung`): Entra's legacy documentation example [docs/idp-behaviour.md#entra-overview].
    public var allowUnquotedValues: Bool

    /// Creates limits.
    public init(maxLength: Int = 4096, maxNodes: Int = 200, maxDepth: Int = 16, allowUnquotedValues: Bool = true) {
        self.maxLength = maxLength
        self.maxNodes = maxNodes
        self.maxDepth = maxDepth
        self.allowUnquotedValues = allowUnquotedValues
    }

    /// Default limits.
    public static let `default` = FilterLimits()
}
