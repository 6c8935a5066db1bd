package import JSON
import Postgres
package import SCIMCore
import Synchronization
package import Telemetry
import Locking
package import Lifecycle

/// How often each IdP quirk (SCIMCore's `IdPQuirk`) was needed, per tenant: which dialect a tenant's IdP speaks.
///
/// Counting has to cost nothing measurable on the request path, so a request never runs SQL for it: `record` returns
/// at once when no quirk fired (one branch), and otherwise adds to an in-memory table under a mutex. A background
/// flush (`QuirkFlushService`) moves the accumulated deltas to the `idp_quirks` table every few seconds, one
/// statement per tenant that had any. Aggregating in memory and flushing in batches, rather than keeping only
/// per-process counters, is what makes the numbers an operator reads survive restarts and add up across replicas of
/// a region (the database does the sum); reads add this process's unflushed deltas, so they are current at once.
/// The same increments feed the process's Prometheus counter `scim_region_idp_quirks_total{tenant,quirk}`.
package final class QuirkCounts: Sendable {
    /// Unflushed counts of one tenant, indexed like `IdPQuirk.allCases`.
    struct Delta: Sendable, Equatable {
        var counts = [Int64](repeating: 0, count: IdPQuirk.allCases.count)
        var firstSeenMillis = [Int64](repeating: 0, count: IdPQuirk.allCases.count)
        var lastSeenMillis = [Int64](repeating: 0, count: IdPQuirk.allCases.count)

        mutating func add(_ i: Int, count: Int64, first: Int64, last: Int64) {
            if counts[i] == 0 || first < firstSeenMillis[i] { firstSeenMillis[i] = first }
            if last > lastSeenMillis[i] { lastSeenMillis[i] = last }
            counts[i] += count
        }

        mutating func merge(_ other: Delta) {
            for i in counts.indices where other.counts[i] > 0 {
                add(i, count: other.counts[i], first: other.firstSeenMillis[i], last: other.lastSeenMillis[i])
            }
        }
    }

    /// One quirk's total for a tenant, as the internal API reports it.
    package struct Total: Sendable, Equatable {
        /// The quirk.
        package var quirk: IdPQuirk
        /// How many requests needed it.
        package var count: Int64
        /// When it was first needed (milliseconds since the epoch).
        package var firstSeenMillis: Int64
        /// When it was last needed (milliseconds since the epoch).
        package var lastSeenMillis: Int64
    }

    private let pending = Lock<[String: Delta]>([:])
    /// Held by a flush and by a read, so a read never sees a delta both in memory and in the database (or in neither).
    private let flushing = Lock<Void>(())
    private let counter: Counter?
    private let clock: @Sendable () -> Int64

    /// Counts; increments also go to `metrics` when given. `clock` (epoch milliseconds) is for tests.
    package init(metrics: MetricsRegistry? = nil, clock: (@Sendable () -> Int64)? = nil) {
        counter = metrics?.counter("scim_region_idp_quirks_total",
                                   "Requests that needed an IdP quirk normalisation, by tenant and quirk (this process).",
                                   labels: ["tenant", "quirk"])
        self.clock = clock ?? { Timestamp.nowEpochMillis() }
    }

    /// Notes the quirks one request needed; nothing happens (no lock) when it needed none.
    package func record(tenant: String, _ quirks: QuirkSet) {
        if quirks.isEmpty { return }
        let now = clock()
        pending.withLock { table in
            var delta = table[tenant] ?? Delta()
            for (i, quirk) in IdPQuirk.allCases.enumerated() where quirks.contains(quirk) {
                delta.add(i, count: 1, first: now, last: now)
            }
            table[tenant] = delta
        }
        if let counter {
            for quirk in quirks { counter.increment([tenant, quirk.rawValue]) }
        }
    }

    static let upsert = PreparedStatement("""
        INSERT INTO idp_quirks (tenant_id, quirk, count, first_seen, last_seen)
        SELECT $1::uuid, d.quirk, d.count, to_timestamp(d.first_ms / 1000.0), to_timestamp(d.last_ms / 1000.0)
        FROM jsonb_to_recordset($2::jsonb) AS d(quirk text, count bigint, first_ms bigint, last_ms bigint)
        ON CONFLICT (tenant_id, quirk) DO UPDATE SET
            count = idp_quirks.count + EXCLUDED.count,
            first_seen = least(idp_quirks.first_seen, EXCLUDED.first_seen),
            last_seen = greatest(idp_quirks.last_seen, EXCLUDED.last_seen)
        """)
    static let select = PreparedStatement("""
        SELECT quirk, count, (extract(epoch FROM first_seen) * 1000)::bigint, (extract(epoch FROM last_seen) * 1000)::bigint
        FROM idp_quirks WHERE tenant_id = $1::uuid
        """)

    /// Writes every tenant's unflushed counts (one transaction per tenant); returns how many tenants were written.
    /// Counts that could not be written are kept for the next flush, except a deleted tenant's, which are dropped.
    @discardableResult
    package func flush(_ database: RegionDatabase) -> Int {
        flushing.withLock { _ in
            let taken = pending.withLock { table in
                defer { table.removeAll(keepingCapacity: true) }
                return table
            }
            var written = 0
            var failed: [String: Delta] = [:]
            for (tenant, delta) in taken {
                do {
                    try database.pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) { connection in
                        _ = try connection.query(Self.upsert, [.text(tenant), .jsonb(Self.rows(delta).description)])
                    }
                    written += 1
                } catch let error as PostgresError where error.kind == .foreignKeyViolation {
                    continue  // the tenant was deleted since: its counts went with it
                } catch {
                    failed[tenant] = delta
                }
            }
            if !failed.isEmpty {
                pending.withLock { table in
                    for (tenant, delta) in failed { table[tenant, default: Delta()].merge(delta) }
                }
            }
            return written
        }
    }

    static func rows(_ delta: Delta) -> JSONValue {
        var rows: [JSONValue] = []
        for (i, quirk) in IdPQuirk.allCases.enumerated() where delta.counts[i] > 0 {
            rows.append(.object(["quirk": .string(quirk.rawValue), "count": .number(JSONNumber(delta.counts[i])),
                                 "first_ms": .number(JSONNumber(delta.firstSeenMillis[i])),
                                 "last_ms": .number(JSONNumber(delta.lastSeenMillis[i]))]))
        }
        return .array(rows)
    }

    /// A tenant's totals (stored plus unflushed), most frequent first.
    package func totals(tenant: String, database: RegionDatabase) throws -> [Total] {
        try flushing.withLock { _ in
            let stored = try database.pool.withTransaction(readOnly: true,
                                                           setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])]) { connection in
                try connection.query(Self.select, [.text(tenant)])
            }
            var delta = pending.withLock { $0[tenant] } ?? Delta()
            for row in 0..<stored.rowCount {
                // A name this build does not know (written by a newer one) is left out rather than misreported.
                guard let name = stored.string(row: row, column: 0),
                      let i = IdPQuirk.allCases.firstIndex(where: { $0.rawValue == name }) else { continue }
                delta.add(i, count: stored.int(row: row, column: 1) ?? 0, first: stored.int(row: row, column: 2) ?? 0,
                          last: stored.int(row: row, column: 3) ?? 0)
            }
            var out: [Total] = []
            for (i, quirk) in IdPQuirk.allCases.enumerated() where delta.counts[i] > 0 {
                out.append(Total(quirk: quirk, count: delta.counts[i], firstSeenMillis: delta.firstSeenMillis[i],
                                 lastSeenMillis: delta.lastSeenMillis[i]))
            }
            // Stable: by count, then in declaration order.
            return out.enumerated().sorted { a, b in
                a.element.count != b.element.count ? a.element.count > b.element.count : a.offset < b.offset
            }.map(\.element)
        }
    }

    /// The internal API's answer: `{"tenantId", "quirks": [{"quirk", "count", "firstSeen", "lastSeen", "knownSenders"}]}`.
    package static func json(tenant: String, _ totals: [Total]) -> JSONValue {
        .object(["tenantId": .string(tenant), "quirks": .array(totals.map { t in
            .object(["quirk": .string(t.quirk.rawValue), "count": .number(JSONNumber(t.count)),
                     "firstSeen": .string(Timestamp.iso8601(epochMillis: t.firstSeenMillis)),
                     "lastSeen": .string(Timestamp.iso8601(epochMillis: t.lastSeenMillis)),
                     "knownSenders": .array(t.quirk.knownSenders.map { .string($0) })])
        })])
    }
}

extension QuirkCounts {
    /// Flushes the counts to `database` every `interval`, and once more at shutdown (after the HTTP server has
    /// drained, when it is started before it).
    package func flushService(into database: RegionDatabase, every interval: Duration = .seconds(10)) -> PeriodicService {
        PeriodicService("quirk-flush", every: interval, last: { [self] in flush(database) }) { [self] in
            flush(database)
            return true
        }
    }
}
