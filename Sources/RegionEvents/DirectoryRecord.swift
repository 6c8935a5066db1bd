import JSON
import Postgres

/// What the operator's app sees of a user beyond SCIM, added to the read API's and the snapshot's users:
/// `effectiveRoles` (highest precedence first; `[]` is no access) with `rolesVersion` (the count of their changes, as
/// `user.roles_changed` events carry it: keep the highest) and the mapped `profile` (null when the tenant maps no
/// attributes). Both are the region's stored values (`user_roles`, `users.profile`), the same the events
/// report.
enum DirectoryRecord {
    /// Two more columns for a query over `users u`: the profile and the roles, as JSON text.
    static let userColumns =
        "u.profile::text, (SELECT json_build_array(r.roles, r.version)::text FROM user_roles r WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id)"

    /// Appends `effectiveRoles`, `rolesVersion` and `profile` from `userColumns` (at `column` and `column + 1`).
    static func addDerived(_ item: inout JSONObject, _ result: PostgresResult, row: Int, column: Int) {
        let roles = result.string(row: row, column: column + 1).flatMap { try? JSONDecoder.decode($0) }
        let profile = result.string(row: row, column: column).flatMap { try? JSONDecoder.decode($0) } ?? .null
        item.appendUnchecked(key: "effectiveRoles", value: roles?[0] ?? .array([]))
        item.appendUnchecked(key: "rolesVersion", value: roles?[1] ?? .number(JSONNumber(0)))
        item.appendUnchecked(key: "profile", value: profile)
    }
}
