public import JSON

/// The three PATCH operations.
public enum PatchOp: String, Sendable, Hashable {
    case add, remove, replace
}
