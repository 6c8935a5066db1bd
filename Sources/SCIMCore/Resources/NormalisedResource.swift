public import JSON

/// The outcome of the create/replace pipeline.
public struct NormalisedResource: Sendable, Hashable {
    /// The resource document to store: `schemas` then attributes in schema order; no `id`/`meta` yet.
    public var document: JSONObject
    /// Attributes kept outside the document (e.g. `members`), normalised, by canonical name.
    public var externalValues: JSONObject
    /// writeOnly attributes (e.g. `password`), normalised, by canonical name; never store them in the document.
    public var writeOnlyValues: JSONObject
    /// External attributes present in the body at all (even as `[]` or `null`), by canonical name, so a PUT
    /// without `members` can be told apart from `"members":[]` if the caller wants to.
    public var externalAttributesGiven: [String] = []
    /// The IdP quirks the body needed (string booleans, a lone object for a multi-valued attribute, …).
    public var quirks = QuirkSet()

    /// The group members given (empty when absent: a PUT without `members` clears them).
    public func members() throws(SCIMError) -> [MemberRef] { try MemberRef.list(from: externalValues["members"]) }
}
