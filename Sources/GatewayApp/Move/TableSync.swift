import Crypto
import JSON
import Telemetry

/// One comparison round of one tenant table between the source and the target region. Rows fall into buckets by a
/// hash of their key (about four rows a bucket, the same on both sides); the source summarises each bucket (row
/// count, sums of the rows' MD5 halves), the target compares those summaries with its own in SQL and names the
/// buckets that differ; the mover clears them on the target and copies the source's rows of them. The summaries pass
/// through the gateway unparsed. The first round of a move finds every bucket different and copies the whole table;
/// later rounds compare only the buckets the source changed since (`MoveRunner.Baseline`, found by transaction id
/// without hashing every row) and those the previous round copied, and copy a few rows per change.
struct TableSync: Sendable {
    let source: RegionMoveClient
    let target: RegionMoveClient
    let table: String
    /// Called between calls: throws to stop (shutdown, a takeover, an abort request).
    let checkpoint: @Sendable () throws(MoveFailure) -> Void

    /// Rows a region summarises in one call (a range of buckets), rows per export page and the page's byte budget
    /// (a region takes bodies of up to 1 MiB by default: `--max-body-bytes`), buckets per clear call.
    static let rowsPerDigestCall = 50_000
    static let bucketsPerCall = 4_000
    static let bucketsPerRange = 8_000
    static let exportPageRows = 2_000
    static let exportPageBytes = 512 * 1024
    static let clearBatch = 4_096

    /// What one round found and did.
    struct Outcome: Sendable {
        var table: String
        var buckets: Int
        var sourceRows: Int
        var targetRows: Int
        /// The buckets that differed (cleared and/or copied this round).
        var differingBuckets: [Int]
        var differing: Int { differingBuckets.count }
        var copiedRows: Int
        /// SHA-256 over the source's per-range digests (equal to the target's when nothing differs).
        var checksum: String
        var millis: Int64
        /// Buckets compared this round.
        var compared: Int

        /// A table a catch-up round had nothing to compare in.
        static func unchanged(_ table: String, buckets: Int) -> Outcome {
            Outcome(table: table, buckets: buckets, sourceRows: 0, targetRows: 0, differingBuckets: [], copiedRows: 0, checksum: "",
                    millis: 0, compared: 0)
        }
    }

    /// About four rows a bucket: a changed row re-copies a handful.
    static func bucketCount(rows: Int) -> Int { min(max(rows / 4, 1), 1 << 20) }

    /// A round over the whole table (`only` nil) or over some of its buckets (the ones copied in the previous round
    /// under the freeze: nothing else can have changed). `buckets` must be the same on both sides and between rounds
    /// that narrow down with `only`.
    func run(buckets: Int, rows estimate: Int, only: [Int]? = nil) throws(MoveFailure) -> Outcome {
        let started = Timestamp.monotonicNanos()
        // The calls: ranges of buckets (about `rowsPerDigestCall` rows each) for the whole table, or the listed
        // buckets in chunks; either way a few hundred KiB of digests a call (a region takes bodies up to 1 MiB).
        var calls: [(from: Int, to: Int, only: [Int]?)] = []
        if let only {
            let sorted = only.sorted()
            for start in stride(from: 0, to: sorted.count, by: Self.bucketsPerCall) {
                calls.append((0, buckets, Array(sorted[start..<min(start + Self.bucketsPerCall, sorted.count)])))
            }
        } else {
            // By rows (the region's work per call) and by buckets (the size of the answer: about 60 bytes a bucket).
            let ranges = max(1, min(buckets, max((estimate + Self.rowsPerDigestCall - 1) / Self.rowsPerDigestCall,
                                                 (buckets + Self.bucketsPerRange - 1) / Self.bucketsPerRange)))
            for r in 0..<ranges { calls.append((buckets * r / ranges, buckets * (r + 1) / ranges, nil)) }
        }
        var clear: [Int] = [], copy: [Int] = []
        var sourceRows = 0, targetRows = 0
        var sourceDigests: [String] = []
        for (from, to, only) in calls {
            try checkpoint()
            let theirs = try source.digests(table: table, buckets: buckets, from: from, to: to, only: only)
            let answer = try target.compare(table: table, buckets: buckets, from: from, to: to, only: only, digests: theirs)
            guard let c = answer["clear"]?.array, let p = answer["copy"]?.array, let digest = answer["sourceDigest"]?.string else {
                throw .transient("region \(target.region) sent an unreadable comparison of \(table)")
            }
            clear += c.compactMap(\.int)
            copy += p.compactMap(\.int)
            sourceRows += answer["sourceRows"]?.int ?? 0
            targetRows += answer["targetRows"]?.int ?? 0
            sourceDigests.append("\(from)-\(to):\(digest)")
        }
        var i = 0
        while i < clear.count {
            try checkpoint()
            _ = try target.clear(table: table, buckets: buckets, only: Array(clear[i..<min(i + Self.clearBatch, clear.count)]))
            i += Self.clearBatch
        }
        // The target has nothing yet: page through the whole table without a bucket filter.
        var copied = 0
        if !copy.isEmpty { copied = try self.copy(buckets: buckets, only: targetRows == 0 && only == nil ? nil : copy) }
        let checksum = Hex.encode(SHA256.hash(Array("\(buckets)\n\(sourceDigests.joined(separator: "\n"))".utf8)))
        return Outcome(table: table, buckets: buckets, sourceRows: sourceRows, targetRows: targetRows,
                       differingBuckets: Array(Set(clear + copy)).sorted(), copiedRows: copied, checksum: checksum,
                       millis: Int64((Timestamp.monotonicNanos() - started) / 1_000_000), compared: only?.count ?? buckets)
    }

    /// Copies the source's rows of `only` (or all) to the target, page by page; returns how many rows were sent.
    func copy(buckets: Int, only: [Int]?) throws(MoveFailure) -> Int {
        var after: JSONValue? = nil
        var sent = 0
        while true {
            try checkpoint()
            let page = try source.export(table: table, buckets: buckets, only: only, after: after, limit: Self.exportPageRows,
                                         maxBytes: Self.exportPageBytes)
            if page.count > 0 {
                _ = try target.importRows(table: table, rows: page.rows)
                sent += page.count
            }
            guard page.more, let next = page.after else { return sent }
            after = next
        }
    }
}
