package import JSON
package import SCIMCore
package import Postgres

/// The result of a SCIM operation, before HTTP rendering (also what one Bulk operation yields).
package enum SCIMOutcome: Sendable {
    /// One resource: 200 or 201 (with `Location`), `ETag` from the version.
    case resource(status: Int, body: JSONObject, version: Int64, location: String?)
    /// A ListResponse.
    case list(ListResponse)
    /// Any other JSON document with 200 (discovery, BulkResponse, tenant settings).
    case document(status: Int, JSONValue)
    /// 204, with the new version when there is one.
    case noContent(version: Int64?)
    /// 304 for `If-None-Match`.
    case notModified(version: Int64)

    /// The HTTP status code.
    package var status: Int {
        switch self {
        case .resource(let status, _, _, _): status
        case .list: 200
        case .document(let status, _): status
        case .noContent: 204
        case .notModified: 304
        }
    }
}

extension SCIMError {
    /// 404 for a resource id that does not exist in this tenant.
    package static func resourceNotFound(_ kind: ResourceKind, _ id: String) -> SCIMError {
        .notFound("\(kind.rawValue) \(id.prefix(64)) not found")
    }

    /// 412 for a failed `If-Match`.
    static let preconditionFailed = SCIMError(status: 412, detail: "the resource has changed: its version does not match If-Match")

    /// Maps a database failure to what the client sees. Messages are fixed phrases: never SQL, never data.
    package static func from(_ error: PostgresError, region: String) -> SCIMError {
        if error.kind == .uniqueViolation {
            switch error.constraint {
            case "users_user_name_key": return .uniqueness("userName is already in use in this tenant")
            case "groups_display_name_key": return .uniqueness("a group with this displayName already exists")
            default: return .uniqueness("a unique attribute is already in use")
            }
        }
        if error.kind == .foreignKeyViolation { return .tenantNotProvisioned(region: region) }
        if error.kind == .invalidParameter { return .invalidValue("string values must not contain the NUL character") }
        // 22P05 untranslatable character, 22021 bad encoding, 54000 program limit (e.g. an index row too large).
        if let state = error.sqlState, state == "22P05" || state == "22021" || state == "54000" {
            return .invalidValue("a value cannot be stored (unsupported character or too large)")
        }
        if error.isTransient || error.kind == .queryCanceled {
            return SCIMError(status: 503, detail: "the region database is unavailable; retry later")
        }
        return SCIMError(status: 500, detail: "internal error")
    }
}
