import JSON
import Postgres
import SCIMCore

/// What one SCIM group write does to its members' roles, gathered while the write runs and applied once at its end
/// (so a PATCH whose operations remove and re-add a member changes nothing and says nothing):
/// - a group no rule picks, before or after the write: nothing to do, and its membership statements stay the plain
///   ones (the 100k-member group of `make bench` pays nothing unless a rule maps it);
/// - a group a rule picks: the users added or removed are recomputed;
/// - a group whose rules changed (renamed, new externalId) or that is deleted: every user member is recomputed.
/// Up to `RegionSettings.rolesInlineLimit` users are recomputed in the write's transaction; beyond, the write asks
/// the tenant's recompute job (in the same transaction, so the request cannot be lost).
struct RoleImpact {
    let mapping: RoleMapping?
    let limit: Int
    /// Whether the write's membership changes matter (its statements then name the members they change).
    let collecting: Bool
    /// Whether the group's own rules changed, so that every member matters.
    let identityChanged: Bool
    private(set) var users: Set<String> = []
    private(set) var everyone = false

    /// Nothing to do.
    static let none = RoleImpact(mapping: nil, limit: 0, collecting: false, identityChanged: false)

    private init(mapping: RoleMapping?, limit: Int, collecting: Bool, identityChanged: Bool) {
        self.mapping = mapping
        self.limit = limit
        self.collecting = collecting
        self.identityChanged = identityChanged
    }

    /// A write of group `group` whose document goes from `before` (nil: created) to `after`.
    init(_ service: SCIMService, _ connection: PostgresConnection, _ context: TenantContext, group: String,
         before: JSONObject?, after: JSONObject) throws {
        let mapping = try service.database.directory.config(context, connection).roles
        guard let mapping, !mapping.rules.isEmpty else {
            self.init(mapping: mapping, limit: 0, collecting: false, identityChanged: false)
            return
        }
        let old = before.map { mapping.grants(Self.identity(group, $0)) } ?? []
        let new = mapping.grants(Self.identity(group, after))
        self.init(mapping: mapping, limit: service.settings.rolesInlineLimit, collecting: !old.isEmpty || !new.isEmpty,
                  identityChanged: before != nil && old != new)
    }

    static let groupRow = PreparedStatement(
        "SELECT external_id, display_name, member_count FROM groups WHERE tenant_id = $1 AND id = $2::uuid")
    /// The same, row-locked: a group about to be deleted, so that no member can be added between reading its
    /// members and the deletion (an add waits, then finds the group gone).
    static let lockGroupRow = PreparedStatement(
        "SELECT external_id, display_name, member_count FROM groups WHERE tenant_id = $1 AND id = $2::uuid FOR UPDATE")

    /// The deletion of group `group`: its user members (read now, before they go with it) if a rule picks it.
    init(_ service: SCIMService, _ connection: PostgresConnection, _ context: TenantContext, deleting group: String) throws {
        let mapping = try service.database.directory.config(context, connection).roles
        guard let mapping, !mapping.rules.isEmpty else {
            self = .none
            return
        }
        let row = try connection.query(Self.lockGroupRow, [.uuid(context.id), .text(group)])
        guard row.rowCount == 1, let name = row.string(row: 0, column: 1),
              !mapping.grants(GroupIdentity(id: group, externalId: row.string(row: 0, column: 0), displayName: name)).isEmpty else {
            self = .none
            return
        }
        self.init(mapping: mapping, limit: service.settings.rolesInlineLimit, collecting: true, identityChanged: false)
        if (row.int(row: 0, column: 2) ?? 0) > Int64(limit) {
            everyone = true
        } else {
            collect(try Self.memberUsers(connection, tenant: context.id, group: group))
        }
    }

    /// Notes members added or removed (ids of users or groups; groups are skipped later).
    mutating func collect(_ ids: [String]) {
        guard collecting, !everyone else { return }
        users.formUnion(ids)
        if users.count > limit {
            everyone = true
            users = []
        }
    }

    /// Recomputes what the write changed (or asks the job to), in the write's transaction. `group` is the group
    /// written (nil when it was deleted).
    func finish(_ service: SCIMService, _ connection: PostgresConnection, tenant: String, group: String?) throws {
        guard let mapping, collecting else { return }
        var users = self.users, everyone = self.everyone
        if identityChanged, let group, !everyone {
            let count = try connection.query(Self.groupRow, [.uuid(tenant), .text(group)]).int(row: 0, column: 2) ?? 0
            if count > Int64(limit) {
                everyone = true
            } else {
                users.formUnion(try Self.memberUsers(connection, tenant: tenant, group: group))
            }
        }
        if everyone {
            try DirectoryJobs.request(tenant: tenant, roles: true, profiles: false,
                                      reason: "a group change affecting more than \(limit) users", connection)
        } else if !users.isEmpty {
            _ = try RoleStore.refresh(users, mapping: mapping, tenant: tenant, connection)
        }
    }

    static func memberUsers(_ connection: PostgresConnection, tenant: String, group: String) throws -> [String] {
        let rows = try connection.query(RoleStore.memberUsers, [.uuid(tenant), .text(group)])
        return (0..<rows.rowCount).compactMap { rows.string(row: $0, column: 0) }
    }

    /// A group document as rules see it.
    static func identity(_ id: String, _ document: JSONObject) -> GroupIdentity {
        GroupIdentity(id: id, externalId: document["externalId"]?.string, displayName: document["displayName"]?.string ?? "")
    }
}
