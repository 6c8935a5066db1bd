public import JSON

/// One bulk operation as sent.
public struct BulkOperation: Sendable, Hashable {
    /// The method.
    public var method: BulkMethod
    /// Client-chosen id (required for POST) that later operations reference as `bulkId:<id>`.
    public var bulkId: String?
    /// The `version` (ETag) precondition, if any.
    public var version: String?
    /// Resource endpoint, e.g. "/Users" or "/Groups".
    public var endpoint: String
    /// The resource id from the path (`/Users/{id}`), possibly a `bulkId:<id>` reference.
    public var resourceID: String?
    /// The request body (POST/PUT/PATCH).
    public var data: JSONValue?

    /// The path as `endpoint[/id]`.
    public var path: String { resourceID.map { endpoint + "/" + $0 } ?? endpoint }
}
