import Crypto
import HTTPCore
import JSON
import Locking
import Lifecycle
import SCIMCore
import ServerRuntime
import Telemetry

/// Sends the records of requests the gateway refused itself to each tenant's home region, whose request log keeps
/// them (PII stays in the home region: the gateway holds a record only in memory, on its way there).
///
/// The request path only appends to a bounded queue (`refused`: no I/O, no wait); a background thread sends batches
/// over the signed internal API (one `POST /internal/v1/tenants/{id}/request-log` per tenant and batch) on the
/// control-plane client's connections, never the data plane's. A region that is down or whose breaker is open is
/// skipped (every replica's breaker open) and retried with back-off; records wait up to `maxAge`, and whatever does not
/// fit the queue is dropped.
/// Every drop is counted (`scim_gateway_request_log_dropped_total{reason}`). Requests whose token resolves to no
/// tenant cannot be attributed to one: they are only counted (`scim_gateway_request_log_unattributed_total`).
final class RequestLogShipper: Service {
    let name = "request-log-shipper"
    /// Bodies up to this size travel with their record; larger ones are described by their size only.
    static let maxBodyBytes = 64 * 1024
    static let batchSize = 500

    private struct State: Sendable {
        var records: [RefusedRequest] = []
        var bytes = 0
        var closed = false
        /// Per region: when to try it again after a failure (monotonic nanoseconds) and the current back-off.
        var retryAt: [String: UInt64] = [:]
        /// Consecutive failed deliveries per region (the back-off's attempt number).
        var failures: [String: Int] = [:]
    }

    let directory: RegionDirectory
    let client: RegionInternalClient
    let capacity: Int
    let byteCapacity: Int
    let interval: Duration
    let maxAge: Duration
    let logger: Logger
    private let state = ConditionLock(State())
    private let finished = ConditionLock(false)
    private let thread = Lock<ThreadHandle?>(nil)
    let shipped: Counter
    let dropped: Counter
    let unattributedRequests: Counter

    init(directory: RegionDirectory, client: RegionInternalClient, registry: MetricsRegistry, logger: Logger,
         capacity: Int = 10_000, byteCapacity: Int = 32 << 20, interval: Duration = .milliseconds(500),
         maxAge: Duration = .seconds(600)) {
        self.directory = directory
        self.client = client
        self.capacity = max(1, capacity)
        self.byteCapacity = byteCapacity
        self.interval = interval
        self.maxAge = maxAge
        self.logger = logger
        shipped = registry.counter("scim_gateway_request_log_shipped_total",
                                   "Records of requests the gateway refused itself, accepted by the tenant's home region.")
        dropped = registry.counter("scim_gateway_request_log_dropped_total",
                                   "Records of refused requests dropped instead of sent, by reason (queue_full, expired, rejected).",
                                   labels: ["reason"])
        unattributedRequests = registry.counter("scim_gateway_request_log_unattributed_total",
                                                "Refused requests no tenant could be found for (no, invalid or revoked token): counted, not logged.",
                                                labels: ["reason"])
        let state = state
        registry.gaugeFunction("scim_gateway_request_log_queued", "Records of refused requests waiting to be sent.") {
            [([], Double(state.withLock { $0.records.count }))]
        }
    }

    // MARK: The request path

    /// Queues the record of a request refused for a known tenant: never waits, never fails (a full queue drops it,
    /// counted).
    func refused(_ request: HTTPRequest, record: RequestRecord, tenant: String, region: String, error: SCIMError) {
        let millis = record.durationSeconds * 1000
        // A request refused for its rate was never looked at and comes again: its body would only make a tenant's
        // flood costly for the region's log (encoded here, decoded, redacted and stored there), so it is left out.
        let body = record.outcome == "rate-limited" || request.body.count > Self.maxBodyBytes ? [] : request.body
        let refused = RefusedRequest(
            tenant: tenant, region: region, atMillis: Timestamp.nowEpochMillis() - Int64(millis), requestID: record.requestID,
            method: request.method.description, route: record.route, path: String(request.path),
            query: request.query.map(String.init), userAgent: request.headers["User-Agent"], status: error.status,
            scimType: error.scimType?.rawValue, detail: error.detail, outcome: record.outcome ?? "refused",
            durationMillis: millis, body: body, bodyBytes: request.body.count)
        let size = refused.footprint
        let accepted = state.withLock { s -> Bool in
            guard !s.closed, s.records.count < capacity, s.bytes + size <= byteCapacity else { return false }
            s.records.append(refused)
            s.bytes += size
            return true
        }
        if !accepted { dropped.increment(["queue_full"]) }
    }

    /// Counts a refused request no tenant is known for.
    func unattributed(_ reason: String) {
        unattributedRequests.increment([reason])
    }

    // MARK: The sending thread

    func start() throws {
        let handle = ThreadHandle.start(name: "request-log-ship") { [self] in
            while true {
                let closing = state.wait(deadlineNanos: Timestamp.monotonicNanos() + interval.nanoseconds) { s in
                    s.closed ? true : nil
                } ?? false
                ship(final: closing)
                if closing { break }
            }
            finished.withLock { $0 = true }
            finished.broadcast()
        }
        thread.withLock { $0 = handle }
    }

    /// Sends what is queued once more (a region that does not answer within the grace period keeps its records:
    /// the process is ending).
    func shutdown(gracePeriod: Duration) {
        state.withLock { $0.closed = true }
        state.broadcast()
        let deadline = Timestamp.monotonicNanos() + gracePeriod.nanoseconds
        if finished.wait(deadlineNanos: deadline, { $0 ? true : nil }) == true {
            thread.withLock { $0 }?.join()
        }
    }

    /// One round: every region that may be tried gets its tenants' records, a batch at a time; a failure puts the
    /// region's records back and backs the region off.
    func ship(final: Bool = false) {
        let now = Timestamp.monotonicNanos()
        // Regions backing off keep their records in the queue; the others' are taken.
        let taken = state.withLock { s -> [RefusedRequest] in
            let waiting = Set(s.retryAt.filter { !final && $0.value > now }.keys)
            var taken: [RefusedRequest] = [], kept: [RefusedRequest] = []
            for r in s.records { if waiting.contains(r.region) { kept.append(r) } else { taken.append(r) } }
            s.records = kept
            s.bytes = kept.reduce(0) { $0 + $1.footprint }
            return taken
        }
        if taken.isEmpty { return }
        let oldest = Timestamp.nowEpochMillis() - maxAge.milliseconds
        var back: [RefusedRequest] = []
        var expired = 0
        for (region, records) in Dictionary(grouping: taken, by: \.region) {
            guard let route = directory.routes[region] else {
                dropped.increment(["rejected"], by: records.count)
                continue
            }
            // Every replica's breaker open (or none known): the region is down; its records wait for it.
            if route.replicas.members.allSatisfy({ $0.breaker.state == .open }) && !final {
                back += records
                backOff(region, now: now)
                continue
            }
            var failed = false
            for (tenant, forTenant) in Dictionary(grouping: records, by: \.tenant) {
                var start = 0
                while start < forTenant.count {
                    let batch = Array(forTenant[start..<min(start + Self.batchSize, forTenant.count)])
                    start += Self.batchSize
                    if failed {
                        back += batch
                        continue
                    }
                    switch send(batch, tenant: tenant, route: route) {
                    case .accepted: shipped.increment([], by: batch.count)
                    case .rejected: dropped.increment(["rejected"], by: batch.count)
                    case .retry:
                        failed = true
                        back += batch.map { var r = $0; r.attempts += 1; return r }
                    }
                }
            }
            if failed { backOff(region, now: now) } else { state.withLock { s in s.retryAt[region] = nil; s.failures[region] = nil } }
        }
        back.removeAll { r in
            if r.atMillis < oldest { expired += 1; return true }
            return false
        }
        if expired > 0 { dropped.increment(["expired"], by: expired) }
        if back.isEmpty { return }
        let overflow = state.withLock { s -> Int in
            // Put back in front, in order; what no longer fits is dropped (the newest go first: the queue holds the rest).
            var merged = back + s.records
            var over = 0
            var bytes = merged.reduce(0) { $0 + $1.footprint }
            while merged.count > capacity || bytes > byteCapacity, let last = merged.popLast() {
                bytes -= last.footprint
                over += 1
            }
            s.records = merged
            s.bytes = bytes
            return over
        }
        if overflow > 0 { dropped.increment(["queue_full"], by: overflow) }
    }

    /// A region that failed a delivery is retried after 0.5 s, doubling to 30 s.
    static let retry = RetrySchedule(baseMillis: 500, capMillis: 30_000)

    private func backOff(_ region: String, now: UInt64) {
        state.withLock { s in
            let attempt = (s.failures[region] ?? 0) + 1
            s.failures[region] = attempt
            s.retryAt[region] = now + UInt64(Self.retry.nominalDelayMillis(afterAttempt: attempt)) * 1_000_000
        }
    }

    enum Delivery { case accepted, rejected, retry }

    /// One batch to the tenant's home region: accepted, refused for good (400, 404: the tenant is gone or its log is
    /// off there), or worth retrying (unreachable, 5xx, 401 during a link-key rotation).
    func send(_ batch: [RefusedRequest], tenant: String, route: RegionRoute) -> Delivery {
        let body = JSONValue.object(["records": .array(batch.map(\.json))]).encoded()
        do {
            let response = try client.send(.post, "/internal/v1/tenants/\(tenant)/request-log", tenant: tenant, body: body,
                                           on: route, requestID: "request-log-" + Base62.random(8), key: nil)
            switch response.status.code {
            case 200...299:
                return .accepted
            case 400, 404, 413:
                logger.warning("region refused request log records", [("tenant.id", .string(tenant)), ("region", .string(route.id)),
                                                                       ("status", .int(Int64(response.status.code)))])
                return .rejected
            default:
                return .retry
            }
        } catch {
            return .retry
        }
    }
}
