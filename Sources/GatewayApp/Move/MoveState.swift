/// Where a tenant's move between regions stands (`tenant_moves.state` in the control plane; docs/residency.md has the
/// diagram). Every transition is one conditional UPDATE guarded by the mover's epoch and written to the audit log in
/// the same transaction, so a crash anywhere leaves the move in exactly one of these states, and every step a state
/// implies can simply be run again.
enum MoveState: String, Sendable, CaseIterable {
    /// Checks both regions (same schema, privileges, transaction ids) and sets the fences: `copying` in the
    /// source, `incoming` in the target.
    case preparing
    /// Rounds of compare-and-copy while SCIM traffic goes on in the source.
    case copying
    /// The source refuses the tenant's writes; the final rounds run until a round finds no difference.
    case frozen
    /// Verified: the target is activated, then the control plane switches the home region (`cut_over`).
    case activating
    /// The home region is the target (committed with the switch); the source is about to be marked `moved`.
    case cutOver = "cut_over"
    /// The source is purged, then verified empty.
    case purging
    /// Finished: the target serves the tenant, the source holds nothing of it.
    case done
    /// Undoing a move before its cut-over: the source's fence is removed, whatever reached the target is purged.
    case aborting
    /// Undone on request: the source serves the tenant as before, the target holds nothing of it.
    case aborted
    /// Undone after an error that retrying cannot fix (the reason is in `lastError`); `resume` starts it again.
    case failed

    /// No mover works on it any more.
    var isTerminal: Bool { self == .done || self == .aborted || self == .failed }

    /// The home region has not changed yet: an abort leaves the source exactly as it was.
    var isBeforeCutOver: Bool {
        switch self {
        case .preparing, .copying, .frozen, .activating: true
        case .cutOver, .purging, .done, .aborting, .aborted, .failed: false
        }
    }

    /// Whether the tenant's writes are refused in this state (the pause the IdP sees as 503 + Retry-After).
    var pausesWrites: Bool { self == .frozen || self == .activating }

    /// The transitions a mover (or the admin API) may make.
    static func allowed(from: MoveState, to: MoveState) -> Bool {
        switch (from, to) {
        case (.preparing, .copying), (.preparing, .aborting): true
        case (.copying, .frozen), (.copying, .aborting): true
        case (.frozen, .activating), (.frozen, .copying), (.frozen, .aborting): true
        case (.activating, .cutOver), (.activating, .aborting): true
        case (.cutOver, .purging): true
        case (.purging, .done): true
        case (.aborting, .aborted), (.aborting, .failed): true
        case (.failed, .preparing): true
        default: false
        }
    }
}
