/// A PostgreSQL snapshot as `pg_current_snapshot()` describes it (`xmin:xmax:xip,…`): which transactions had
/// committed when it was taken. Every transaction below `xmin` had finished; none at or above `xmax` had; between
/// them, those listed in `xip` were still in progress. A reconciliation snapshot's data is read in this snapshot,
/// and its event cursor carries it, so the feed after the cursor holds exactly the transactions it did not see.
package struct EventSnapshot: Sendable, Hashable {
    package var xmin: UInt64
    package var xmax: UInt64
    /// In-progress transaction ids, ascending.
    package var xip: [UInt64]

    /// The most in-progress transactions a cursor carries (a server has at most `max_connections` of them).
    static let maxInProgress = 1024

    /// A snapshot; nil unless `xmin <= xip < xmax` and the list is ascending and bounded.
    package init?(xmin: UInt64, xmax: UInt64, xip: [UInt64]) {
        guard xmin <= xmax, xip.count <= Self.maxInProgress,
              xip.allSatisfy({ $0 >= xmin && $0 < xmax }), zip(xip, xip.dropFirst()).allSatisfy({ $0 < $1 }) else { return nil }
        self.xmin = xmin
        self.xmax = xmax
        self.xip = xip
    }

    /// Parses `pg_snapshot` text (`10:20:12,15`).
    package init?(text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let lo = UInt64(parts[0]), let hi = UInt64(parts[1]) else { return nil }
        var list: [UInt64] = []
        if !parts[2].isEmpty {
            for p in parts[2].split(separator: ",", omittingEmptySubsequences: false) {
                guard let x = UInt64(p) else { return nil }
                list.append(x)
            }
        }
        self.init(xmin: lo, xmax: hi, xip: list)
    }

    /// The `pg_snapshot` text.
    package var text: String { "\(xmin):\(xmax):" + xip.map(String.init).joined(separator: ",") }

    /// Whether the snapshot saw transaction `xid` finished (`pg_visible_in_snapshot`).
    package func isVisible(_ xid: UInt64) -> Bool {
        xid < xmin || (xid < xmax && !xip.contains(xid))
    }
}
