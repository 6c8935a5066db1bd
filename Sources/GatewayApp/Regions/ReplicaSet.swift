import Locking
import Synchronization
import Telemetry

/// The replicas serving one region, swapped as a whole when the configuration changes (a request keeps the
/// replica it selected; nothing it holds is taken away). Requests go to the healthy replica with the fewest
/// requests in flight (and queued), ties in turn, so a slow replica gets less and a fast one more.
final class ReplicaSet: Sendable {
    private let current: Lock<[RegionReplica]>
    /// Where the round of equally loaded replicas starts (advances with every selection).
    private let rotation = Atomic<Int>(0)

    init(_ replicas: [RegionReplica]) { current = Lock(replicas) }

    /// The replicas now.
    var members: [RegionReplica] { current.withLock { $0 } }

    /// Replaces the members at once; returns the ones that left.
    @discardableResult
    func replace(with replicas: [RegionReplica]) -> [RegionReplica] {
        let old = current.withLock { members -> [RegionReplica] in
            defer { members = replicas }
            return members
        }
        return old.filter { was in !replicas.contains { $0 === was } }
    }

    enum Selection {
        /// Send to this replica (`trial`: its breaker's half-open trial; report the outcome as such).
        case replica(RegionReplica, trial: Bool)
        /// No replica takes requests now; the soonest one may in this many seconds.
        case none(retryAfterSeconds: Int)
    }

    /// The replica for the next request: the least loaded one whose breaker admits it, skipping `excluded` (replicas
    /// this request already failed to reach).
    func select(excluding excluded: [RegionReplica] = [], now: UInt64) -> Selection {
        // One read of the set (under its lock): a swap meanwhile cannot make the checks below disagree.
        let members = self.members
        // One replica, nothing excluded (most regions, most requests): no load to compare, nothing to allocate.
        if members.count == 1, excluded.isEmpty {
            switch members[0].breaker.admit(now: now) {
            case .allowed: return .replica(members[0], trial: false)
            case .trial: return .replica(members[0], trial: true)
            case .refused(let seconds): return .none(retryAfterSeconds: seconds)
            }
        }
        let candidates = members.filter { replica in !excluded.contains { $0 === replica } }
        guard !candidates.isEmpty else { return .none(retryAfterSeconds: 1) }
        let start = rotation.add(1, ordering: .relaxed).newValue
        var retryAfter = Int.max
        for index in Self.order(loads: candidates.map(\.pool.load), start: start) {
            let replica = candidates[index]
            switch replica.breaker.admit(now: now) {
            case .allowed: return .replica(replica, trial: false)
            case .trial: return .replica(replica, trial: true)
            case .refused(let seconds): retryAfter = min(retryAfter, seconds)
            }
        }
        return .none(retryAfterSeconds: retryAfter == .max ? 1 : retryAfter)
    }

    /// Indices of `loads` from least to most loaded; equal loads in turn from `start` (so idle replicas share the
    /// traffic round-robin instead of the first one taking it all).
    static func order(loads: [Int], start: Int) -> [Int] {
        let n = loads.count
        guard n > 0 else { return [] }
        let offset = ((start % n) + n) % n
        return (0..<n).sorted { a, b in
            if loads[a] != loads[b] { return loads[a] < loads[b] }
            return (a - offset + n) % n < (b - offset + n) % n
        }
    }
}
