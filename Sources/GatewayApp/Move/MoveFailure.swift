/// Why a step of a move did not complete, and so what the mover does next.
enum MoveFailure: Error, Sendable, CustomStringConvertible {
    /// A region or the control plane did not answer, answered 503, or a freeze did not drain in time: retried with
    /// back-off; the move's state does not change.
    case transient(String)
    /// Retrying cannot help (the regions run different schemas, the database role lacks a privilege, the target
    /// already holds the tenant's data): before the cut-over the move is undone and marked failed.
    case permanent(String)
    /// Another mover took the move over (a higher epoch): this one stops at once, changing nothing.
    case superseded(String)
    /// The operator asked for an abort: the current step stops and the move is undone.
    case abortRequested
    /// The process is shutting down: the move is released for another mover.
    case stopping
    /// The final catch-up under the freeze ran out of the pause allowed: writes resume, catch-up goes on.
    case pauseExceeded

    var description: String {
        switch self {
        case .transient(let m), .permanent(let m), .superseded(let m): m
        case .abortRequested: "abort requested"
        case .stopping: "the gateway is shutting down"
        case .pauseExceeded: "the final catch-up did not fit the pause allowed"
        }
    }
}
