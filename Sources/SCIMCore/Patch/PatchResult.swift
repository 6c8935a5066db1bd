public import JSON

/// What a PATCH did.
public struct PatchResult: Sendable, Hashable {
    /// The patched document (`schemas` recomputed).
    public var document: JSONObject
    /// Whether the document differs from the input (if not, the version must not change).
    public var documentChanged: Bool
    /// Membership changes, in request order.
    public var membershipChanges: [MembershipChange]
    /// writeOnly values set by the request (e.g. `password`), never part of the document.
    public var writeOnlyValues: JSONObject
    /// Canonical names of attributes whose value changed, in document order; extension attributes as `urn:…:name`.
    public var changedAttributes: [String]
    /// The IdP quirks this PATCH needed (the request's envelope quirks included).
    public var quirks = QuirkSet()

    /// Whether an attribute changed (canonical name, or `urn:…:name`; case-insensitive).
    public func changed(_ attribute: String) -> Bool {
        changedAttributes.contains { asciiCaseInsensitiveEquals($0, attribute) }
    }

    /// The new `active` value when it changed (absent counts as false).
    public var newActive: Bool? { changed("active") ? (document["active"]?.bool ?? false) : nil }
    /// The new `userName` when it changed.
    public var newUserName: String? { changed("userName") ? document["userName"]?.string : nil }
    /// The new `externalId` when it changed (nil also when removed; check `changed("externalId")`).
    public var newExternalId: String? { changed("externalId") ? document["externalId"]?.string : nil }
    /// The new `displayName` when it changed.
    public var newDisplayName: String? { changed("displayName") ? document["displayName"]?.string : nil }
}
