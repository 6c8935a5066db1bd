public import JSON

/// Where an attribute lives in a resource document.
public enum AttributeContainer: Sendable, Hashable {
    /// Top level: core schema attributes and the common attributes (id, externalId, meta).
    case core
    /// Inside the object keyed by this extension schema URN.
    case `extension`(String)
}
