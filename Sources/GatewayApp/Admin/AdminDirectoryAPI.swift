import HTTPCore
import JSON

/// What the operator's app needs from the directory (issue 18), relayed to the tenant's home region like the
/// events and read API (`AdminEventsAPI`): the app's roles and the rules that give them from IdP groups, the
/// attribute mapping to the app's profile fields (with a preview that saves nothing), one user with its effective
/// roles and profile, and reconciliation snapshots. Changes are audited (what changed, never the rules' content).
extension AdminAPI {
    func getRoles(_ call: AdminCall) throws(AdminError) -> HTTPResponse { try relayToRegion(call, .get, "roles") }

    func putRoles(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .put, "roles", audit: "roles.configure")
    }

    func deleteRoles(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .delete, "roles", audit: "roles.delete")
    }

    func getAttributeMapping(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .get, "attribute-mapping")
    }

    func putAttributeMapping(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .put, "attribute-mapping", audit: "attribute_mapping.configure")
    }

    func deleteAttributeMapping(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .delete, "attribute-mapping", audit: "attribute_mapping.delete")
    }

    func previewAttributeMapping(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .post, "attribute-mapping/preview")
    }

    func showUser(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .get, "users/\(try Self.uuidSegment(call, "user"))")
    }

    func createSnapshot(_ call: AdminCall) throws(AdminError) -> HTTPResponse { try relayToRegion(call, .post, "snapshots") }

    func snapshotPage(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .get, "snapshots/\(try Self.snapshotSegment(call))")
    }

    func releaseSnapshot(_ call: AdminCall) throws(AdminError) -> HTTPResponse {
        try relayToRegion(call, .delete, "snapshots/\(try Self.snapshotSegment(call))")
    }

    /// A route parameter (`:user`, `:group`) that must be a UUID (hex digits and dashes), so nothing odd reaches the
    /// region's path; anything else is a 404 here ("<name> not found").
    static func uuidSegment(_ call: AdminCall, _ name: String) throws(AdminError) -> String {
        let value = call.parameter(name)
        guard !value.isEmpty, value.utf8.count <= 36,
              value.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) || $0 == 0x2D })
        else { throw .notFound("\(name) not found") }
        return value
    }

    /// A snapshot token as the region issues it (`snap` + base64url + `.` + base64url).
    static func snapshotSegment(_ call: AdminCall) throws(AdminError) -> String {
        let value = call.parameter("snapshot")
        guard value.hasPrefix("snap"), value.utf8.count <= 200, value.utf8.allSatisfy({ c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
        }) else { throw .notFound("snapshot not found") }
        return value
    }
}
