public import JSON

/// A schema (RFC 7643 §7): an id URN and its attributes.
public struct Schema: Sendable, Hashable {
    /// Schema URN.
    public var id: String
    /// Short name.
    public var name: String
    /// Human-readable description.
    public var description: String
    /// Top-level attributes.
    public var attributes: [AttributeDefinition]

    /// Creates a schema.
    public init(id: String, name: String, description: String = "", attributes: [AttributeDefinition]) {
        self.id = id
        self.name = name
        self.description = description
        self.attributes = attributes
    }

    /// Attribute by name, ignoring case.
    public func attribute(named n: String) -> AttributeDefinition? {
        for a in attributes where asciiCaseInsensitiveEquals(a.name, n) { return a }
        return nil
    }
}
