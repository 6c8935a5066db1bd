public import JSON

/// One operation of a BulkRequest (RFC 7644 §3.7), as far as it can be checked without running it.
public struct BulkOperation: Sendable, Hashable {
    /// Its position in the request (answers keep the request's order).
    public var index: Int
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    public var method: String
    /// `/Users`, `/Groups/<id>` or `/Groups/bulkId:<x>`.
    public var path: String
    public var bulkID: String?
    /// The `If-Match` version to check.
    public var version: String?
    public var data: JSONValue?
    /// bulkIds this operation refers to (in its path or anywhere in its data).
    public var references: Set<String>

    public init(index: Int, method: String, path: String, bulkID: String?, version: String?, data: JSONValue?,
                references: Set<String>) {
        self.index = index
        self.method = method
        self.path = path
        self.bulkID = bulkID
        self.version = version
        self.data = data
        self.references = references
    }
}
