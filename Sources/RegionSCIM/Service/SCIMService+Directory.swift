import JSON
import Postgres
import SCIMCore

/// The write path's part in the directory's derived state (issue 18): a new user's profile and first roles. Group
/// writes go through `RoleImpact`; user updates store the profile with the document (`update`).
extension SCIMService {
    /// A user POST: the INSERT (with the mapped profile) and, when the tenant's rules give a user without groups a
    /// role (a default role), that role's row; one round trip.
    static func createUserStatements(tenant: String, id: String, _ row: ResourceRow, _ document: JSONObject,
                                     _ directory: DirectoryConfig) -> [PostgresStatement] {
        var statements: [PostgresStatement] = [
            .prepared(ResourceStore.createUser,
                      ResourceStore.createValues(tenant: tenant, id: id, row, document,
                                                 profile: ProfileStore.value(document, directory.mapping))),
        ]
        if let roles = directory.roles?.effectiveRoles(groups: []), !roles.isEmpty {
            statements.append(.prepared(RoleStore.insertNew, [.uuid(tenant), .text(id), .text(ArrayLiteral.text(roles))]))
        }
        return statements
    }
}
