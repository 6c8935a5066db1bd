package import JSON
package import Postgres
package import SCIMCore

/// A resource as stored: the document (no `id`/`meta`, no row-backed attribute) and its row metadata.
package struct StoredResource: Sendable {
    package var id: String
    package var document: JSONObject
    package var version: Int64
    package var created: PostgresTimestamp
    package var lastModified: PostgresTimestamp
    /// A user's `groups` or a group's `members`, when loaded.
    package var related: [MemberRef]? = nil

    package init(id: String, document: JSONObject, version: Int64, created: PostgresTimestamp, lastModified: PostgresTimestamp,
                 related: [MemberRef]? = nil) {
        self.id = id
        self.document = document
        self.version = version
        self.created = created
        self.lastModified = lastModified
        self.related = related
    }
}
