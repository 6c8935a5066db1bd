public import JSON

/// One PATCH operation.
public struct PatchOperation: Sendable, Hashable {
    /// add, remove or replace.
    public var op: PatchOp
    /// Target; nil means the resource itself.
    public var path: PatchPath?
    /// The value as sent.
    public var value: JSONValue?

    /// Creates an operation.
    public init(op: PatchOp, path: PatchPath? = nil, value: JSONValue? = nil) {
        self.op = op
        self.path = path
        self.value = value
    }
}
