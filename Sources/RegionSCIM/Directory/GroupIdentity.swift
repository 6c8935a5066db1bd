/// What a role rule can match a group on: its id, its externalId (the IdP's identifier for it) and its displayName.
package struct GroupIdentity: Sendable, Hashable {
    /// The group's id (a canonical lowercase UUID).
    package var id: String
    /// The IdP's identifier, if it sent one.
    package var externalId: String?
    /// The group's name.
    package var displayName: String

    /// A group as rules see it.
    package init(id: String, externalId: String?, displayName: String) {
        self.id = id
        self.externalId = externalId
        self.displayName = displayName
    }
}
