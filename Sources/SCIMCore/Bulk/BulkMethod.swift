public import JSON

/// HTTP methods allowed in a bulk operation.
public enum BulkMethod: String, Sendable, Hashable {
    case post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE"
}
