public import JSON

/// A change to an external multi-valued attribute (Group `members`), to apply as one SQL statement each, in order.
public enum MembershipChange: Sendable, Hashable {
    /// Insert these members (existing ones stay).
    case add([MemberRef])
    /// Delete the members with these ids.
    case remove(values: [String])
    /// Delete the members matching a filter over member sub-attributes (`value`, `type`, `display`, `$ref`).
    case removeMatching(ResolvedFilter)
    /// Delete every member.
    case removeAll
    /// Replace all members with these.
    case replaceAll([MemberRef])
}
