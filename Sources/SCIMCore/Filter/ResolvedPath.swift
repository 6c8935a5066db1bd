import JSON

/// An attribute path resolved against a resource's schemas: what a storage layer needs to compile a filter to SQL.
public struct ResolvedPath: Sendable, Hashable, CustomStringConvertible {
    /// Where the attribute lives (top level, or inside an extension object).
    public let container: AttributeContainer
    /// URN of the schema that defines the attribute (the core schema for common attributes).
    public let schemaURN: String
    /// The (top-level) attribute.
    public let attribute: AttributeDefinition
    /// The sub-attribute, when the path has one (or when `value` was implied for a complex attribute).
    public let subAttribute: AttributeDefinition?

    /// The definition actually compared: the sub-attribute if any, else the attribute.
    public var target: AttributeDefinition { subAttribute ?? attribute }
    /// Whether string comparisons are case-sensitive.
    public var caseExact: Bool { target.caseExact }
    /// Whether the top-level attribute is multi-valued.
    public var multiValued: Bool { attribute.multiValued }
    /// Type of the compared value.
    public var type: AttributeType { target.type }

    /// Canonical path text: `emails.value`, `urn:…:User:manager.value`.
    public var description: String {
        var s = ""
        if case .extension(let urn) = container { s = urn + ":" }
        s += attribute.name
        if let sub = subAttribute { s += "." + sub.name }
        return s
    }
}
