package import JSON
package import Postgres
import SCIMCore

/// Mapped profiles in `users.profile`: computed by the SCIM write path with the document it stores, and by the
/// recompute job after a mapping change (which locks the rows first, so it maps the document as last committed).
package enum ProfileStore {
    /// The live users among $2 with their document and stored profile, locked against concurrent writes in id order
    /// (a SCIM write locks its user first too, so neither can store a profile computed from a document the other is
    /// replacing).
    static let lockUsers = PreparedStatement(
        """
        SELECT u.id::text, u.resource::text, u.profile::text FROM users u
        WHERE u.tenant_id = $1 AND u.id = ANY ($2::uuid[]) AND u.deleted_at IS NULL
        ORDER BY u.id FOR NO KEY UPDATE
        """)
    /// The same without locking: the first look, after which only the users whose profile differs are locked (a
    /// row lock writes the row: for a million users whose profile stays, that is a million writes for nothing).
    static let readUsers = PreparedStatement(
        """
        SELECT id::text, resource::text, profile::text FROM users
        WHERE tenant_id = $1 AND id = ANY ($2::uuid[]) AND deleted_at IS NULL
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
    /// Returns how many. Reads without locks first, then locks and re-reads only the users whose profile differs.
    package static func refresh(_ users: some Collection<String>, mapping: AttributeMapping?, tenant: String,
                                _ connection: PostgresConnection) throws -> Int {
        if users.isEmpty { return 0 }
        let first = try connection.query(readUsers, [.uuid(tenant), .text(ArrayLiteral.text(Array(Set(users)).sorted()))])
        let candidates = try changes(first, mapping).map(\.user)
        if candidates.isEmpty { return 0 }
        let locked = try connection.query(lockUsers, [.uuid(tenant), .text(ArrayLiteral.text(candidates.sorted()))])
        let changed = try changes(locked, mapping)
        if changed.isEmpty { return 0 }
        let rows = JSONValue.array(changed.map { ["u": .string($0.user), "p": $0.profile] })
        return try connection.execute(store, [.uuid(tenant), .jsonb(rows.description)])
    }

    /// The users of a `readUsers`/`lockUsers` result whose profile under `mapping` differs from the stored one.
    static func changes(_ rows: PostgresResult, _ mapping: AttributeMapping?) throws -> [(user: String, profile: JSONValue)] {
        var out: [(user: String, profile: JSONValue)] = []
        for row in 0..<rows.rowCount {
            guard let id = rows.string(row: row, column: 0),
                  case .object(let document)? = try rows.withBytes(row: row, column: 1, { try JSONDecoder.decode($0) }) else {
                throw SCIMError(status: 500, detail: "a stored resource is unreadable")
            }
            let profile: JSONValue = mapping.map { .object($0.profile(document)) } ?? .null
            let stored = rows.string(row: row, column: 2).flatMap { try? JSONDecoder.decode($0) } ?? .null
            if !Self.same(stored, profile) { out.append((id, profile)) }
        }
        return out
    }

    /// JSON equality ignoring object member order (jsonb keeps none) and number spelling (jsonb normalises it).
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            return x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.number(let x), .number(let y)):
            return x.compare(y) == 0
        default:
            return a == b
        }
    }
}
