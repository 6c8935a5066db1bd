public import JSON

/// A resource type (RFC 7643 §6).
public struct ResourceType: Sendable, Hashable {
    /// Resource type id ("User").
    public var id: String
    /// Resource type name.
    public var name: String
    /// Endpoint path ("/Users").
    public var endpoint: String
    /// Human-readable description.
    public var description: String
    /// Core schema URN.
    public var schema: String
    /// Extension schemas.
    public var schemaExtensions: [SchemaExtension]
    /// Attributes stored outside the JSON document (e.g. Group `members`, kept as SQL rows).
    public var externalAttributes: [String]

    /// Creates a resource type.
    public init(id: String, name: String, endpoint: String, description: String = "", schema: String,
                schemaExtensions: [SchemaExtension] = [], externalAttributes: [String] = []) {
        self.id = id
        self.name = name
        self.endpoint = endpoint
        self.description = description
        self.schema = schema
        self.schemaExtensions = schemaExtensions
        self.externalAttributes = externalAttributes
    }
}
