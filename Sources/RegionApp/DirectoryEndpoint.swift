import HTTPCore

/// The region's routes for what the operator's app needs from the directory (issue 18): role rules, attribute
/// mapping, one user with its roles and profile, reconciliation snapshots. Answered by `RegionResponder+Directory`.
enum DirectoryEndpoint: Sendable {
    case getRoles, putRoles, deleteRoles
    case getMapping, putMapping, deleteMapping, previewMapping
    case user
    case createSnapshot, snapshotPage, releaseSnapshot

    /// Method, route template, endpoint.
    static let routes: [(HTTPMethod, String, DirectoryEndpoint)] = [
        (.get, "/internal/v1/tenants/:id/roles", .getRoles),
        (.put, "/internal/v1/tenants/:id/roles", .putRoles),
        (.delete, "/internal/v1/tenants/:id/roles", .deleteRoles),
        (.get, "/internal/v1/tenants/:id/attribute-mapping", .getMapping),
        (.put, "/internal/v1/tenants/:id/attribute-mapping", .putMapping),
        (.delete, "/internal/v1/tenants/:id/attribute-mapping", .deleteMapping),
        (.post, "/internal/v1/tenants/:id/attribute-mapping/preview", .previewMapping),
        (.get, "/internal/v1/tenants/:id/users/:user", .user),
        (.post, "/internal/v1/tenants/:id/snapshots", .createSnapshot),
        (.get, "/internal/v1/tenants/:id/snapshots/:snapshot", .snapshotPage),
        (.delete, "/internal/v1/tenants/:id/snapshots/:snapshot", .releaseSnapshot),
    ]
}
