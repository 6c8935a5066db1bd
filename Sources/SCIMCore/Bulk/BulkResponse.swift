public import JSON

/// The BulkResponse envelope.
public struct BulkResponse: Sendable, Hashable {
    /// Results in execution order.
    public var operations: [BulkOperationResult]

    /// Creates a response.
    public init(operations: [BulkOperationResult]) { self.operations = operations }

    /// The envelope.
    public var json: JSONValue {
        .object(["schemas": [.string(BulkRequest.responseSchemaURN)], "Operations": .array(operations.map(\.json))])
    }
}
