public import JSON

/// One attribute definition (RFC 7643 §7); drives validation, PATCH, filters and projection.
public struct AttributeDefinition: Sendable, Hashable {
    /// Canonical attribute name.
    public var name: String
    /// Data type.
    public var type: AttributeType
    /// Whether the attribute holds a list of values.
    public var multiValued: Bool
    /// Human-readable description (published in /Schemas).
    public var description: String
    /// Whether a value is required on create/replace.
    public var required: Bool
    /// Whether string comparisons are case-sensitive.
    public var caseExact: Bool
    /// Who may write the attribute.
    public var mutability: Mutability
    /// When the attribute is returned.
    public var returned: Returned
    /// Uniqueness the service provider enforces.
    public var uniqueness: Uniqueness
    /// Suggested values (published, not enforced: IdPs send their own, e.g. Entra's random role types [docs/idp-behaviour.md#entra-create-user]).
    public var canonicalValues: [String]
    /// Resource types a reference may point to.
    public var referenceTypes: [String]
    /// Sub-attributes of a complex attribute.
    public var subAttributes: [AttributeDefinition]
    /// An extra per-attribute check applied on input.
    public var validator: ValueValidator?

    /// Creates a definition with RFC 7643 §2.2 defaults.
    public init(_ name: String, _ type: AttributeType = .string, multiValued: Bool = false, description: String = "",
                required: Bool = false, caseExact: Bool = false, mutability: Mutability = .readWrite,
                returned: Returned = .default, uniqueness: Uniqueness = .none, canonicalValues: [String] = [],
                referenceTypes: [String] = [], subAttributes: [AttributeDefinition] = [], validator: ValueValidator? = nil) {
        self.name = name
        self.type = type
        self.multiValued = multiValued
        self.description = description
        self.required = required
        self.caseExact = caseExact
        self.mutability = mutability
        self.returned = returned
        self.uniqueness = uniqueness
        self.canonicalValues = canonicalValues
        self.referenceTypes = referenceTypes
        self.subAttributes = subAttributes
        self.validator = validator
    }

    /// Sub-attribute by name, ignoring case.
    public func subAttribute(named n: String) -> AttributeDefinition? {
        for s in subAttributes where asciiCaseInsensitiveEquals(s.name, n) { return s }
        return nil
    }
}
