package import JSON
package import Postgres
import SCIMCore

/// Mapped profiles in `users.profile`: computed by the SCIM write path with the document it stores, and by the
/// recompute job after a mapping change (which locks the rows first, so it maps the document as last committed).
package enum ProfileStore {
    /// The live users among $2, locked against concurrent writes, in id order (a SCIM write locks its user first
    /// too, so neither can store a profile computed from a document the other is replacing).
    static let lockUsers = PreparedStatement(
        """
        SELECT id::text, resource::text FROM users
        WHERE tenant_id = $1 AND id = ANY ($2::uuid[]) AND deleted_at IS NULL
        ORDER BY id FOR NO KEY UPDATE
        """)

    /// Stores profiles (`[{"u": id, "p": profile|null}]`) that differ; the trigger writes `user.profile_changed`.
    static let store = PreparedStatement(
        """
        UPDATE users u SET profile = v.p
        FROM jsonb_to_recordset($2::jsonb) AS v(u uuid, p jsonb)
        WHERE u.tenant_id = $1 AND u.id = v.u AND u.deleted_at IS NULL AND u.profile IS DISTINCT FROM v.p
        """)

    /// The profile column's value for a user document (NULL when the tenant maps nothing).
    package static func value(_ document: JSONObject, _ mapping: AttributeMapping?) -> PostgresValue {
        guard let mapping else { return .null }
        return .jsonb(JSONValue.object(mapping.profile(document)).description)
    }

    /// Maps the documents of `users` again with `mapping` (nil: no profile) and stores the profiles that changed.
    /// Returns how many.
    package static func refresh(_ users: some Collection<String>, mapping: AttributeMapping?, tenant: String,
                                _ connection: PostgresConnection) throws -> Int {
        if users.isEmpty { return 0 }
        let rows = try connection.query(lockUsers, [.uuid(tenant), .text(ArrayLiteral.text(Array(Set(users)).sorted()))])
        var values: [JSONValue] = []
        values.reserveCapacity(rows.rowCount)
        for row in 0..<rows.rowCount {
            guard let id = rows.string(row: row, column: 0),
                  case .object(let document)? = try rows.withBytes(row: row, column: 1, { try JSONDecoder.decode($0) }) else {
                throw SCIMError(status: 500, detail: "a stored resource is unreadable")
            }
            let profile: JSONValue = mapping.map { .object($0.profile(document)) } ?? .null
            values.append(["u": .string(id), "p": profile])
        }
        if values.isEmpty { return 0 }
        return try connection.execute(store, [.uuid(tenant), .jsonb(JSONValue.array(values).description)])
    }
}
