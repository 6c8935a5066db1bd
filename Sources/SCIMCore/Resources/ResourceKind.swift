/// The two SCIM resource types this service stores (RFC 7643 §4).
public enum ResourceKind: String, Sendable, Hashable, CaseIterable {
    case user = "User"
    case group = "Group"

    /// `/Users` or `/Groups`.
    public var endpoint: String { self == .user ? "/Users" : "/Groups" }
    /// The attribute kept as rows rather than in the document: a user's `groups`, a group's `members`.
    public var relatedAttribute: String { self == .user ? "groups" : "members" }
}
