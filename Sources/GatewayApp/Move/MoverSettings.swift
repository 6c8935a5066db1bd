/// How the gateway's mover works (`--move-*` flags).
struct MoverSettings: Sendable {
    /// Moves this process runs at once (0: it runs none; another replica does).
    var workers = 1
    /// How long the tenant's writes may stay paused for the final catch-up; a freeze that needs longer is given up
    /// (writes resume) and tried again after more catch-up rounds.
    var maxPause: Duration = .seconds(5)
    /// How long a mover's claim lasts without renewal: after a crash, another replica (or this one, restarted)
    /// takes the move over this long after the last renewal at the latest (`move-resume` takes it over at once).
    var leaseSeconds = 15
    /// Freeze when a catch-up round copied at most this many rows (the changes of one round must fit in the pause).
    var convergedRows = 2_000
    /// Freeze after this many catch-up rounds even if they never got that small.
    var maxRounds = 30
    /// Freezes given up before the move fails (the tenant writes too fast for the pause allowed).
    var maxFreezeAttempts = 5
    /// Transaction ids one call may consume on the target to get ahead of the source, and in all.
    var transactionIDsPerCall = 50_000
    var maxTransactionIDs = 2_000_000
    /// Rows one purge call deletes.
    var purgeBatch = 20_000
}
