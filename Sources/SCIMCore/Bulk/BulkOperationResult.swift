public import JSON

/// The result of one bulk operation, for the BulkResponse.
public struct BulkOperationResult: Sendable, Hashable {
    /// The operation's method.
    public var method: BulkMethod
    /// The operation's bulkId, echoed.
    public var bulkId: String?
    /// The resulting resource version (ETag).
    public var version: String?
    /// The resulting resource URL.
    public var location: String?
    /// HTTP status of the operation.
    public var status: Int
    /// The Error envelope for a failed operation.
    public var error: SCIMError?

    /// Creates a result.
    public init(method: BulkMethod, bulkId: String? = nil, version: String? = nil, location: String? = nil, status: Int, error: SCIMError? = nil) {
        self.method = method
        self.bulkId = bulkId
        self.version = version
        self.location = location
        self.status = status
        self.error = error
    }

    /// The operation entry (`status` as a string, as in the RFC 7644 §3.7.3 examples).
    public var json: JSONValue {
        var o = JSONObject()
        if let location { o.appendUnchecked(key: "location", value: .string(location)) }
        o.appendUnchecked(key: "method", value: .string(method.rawValue))
        if let bulkId { o.appendUnchecked(key: "bulkId", value: .string(bulkId)) }
        if let version { o.appendUnchecked(key: "version", value: .string(version)) }
        o.appendUnchecked(key: "status", value: .string(String(status)))
        if let error { o.appendUnchecked(key: "response", value: error.json) }
        return .object(o)
    }
}
