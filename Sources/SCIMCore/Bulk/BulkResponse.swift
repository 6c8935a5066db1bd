public import JSON

/// The BulkResponse envelope (RFC 7644 §3.7.3) and its per-operation error entries.
public enum BulkResponse {
    public static let urn = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

    /// `{"schemas": [...BulkResponse], "Operations": [...]}` with the entries in request order.
    public static func envelope(_ entries: [JSONValue]) -> JSONValue {
        var response = JSONObject()
        response.appendUnchecked(key: "schemas", value: [.string(urn)])
        response.appendUnchecked(key: "Operations", value: .array(entries))
        return .object(response)
    }

    /// An operation that failed: its method and bulkId as sent, the status, and the SCIM error as `response`.
    public static func errorEntry(method: String?, bulkID: String?, error: SCIMError) -> JSONValue {
        var entry = JSONObject()
        if let method { entry.appendUnchecked(key: "method", value: .string(method)) }
        if let bulkID { entry.appendUnchecked(key: "bulkId", value: .string(bulkID)) }
        entry.appendUnchecked(key: "status", value: .string(String(error.status)))
        entry.appendUnchecked(key: "response", value: error.json)
        return .object(entry)
    }
}
