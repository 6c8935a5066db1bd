public import JSON

/// A schema extension reference inside a resource type.
public struct SchemaExtension: Sendable, Hashable {
    /// Extension schema URN.
    public var schema: String
    /// Whether resources must carry the extension.
    public var required: Bool
    /// Creates a reference.
    public init(schema: String, required: Bool = false) {
        self.schema = schema
        self.required = required
    }
}
