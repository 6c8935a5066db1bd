#if canImport(Glibc)
import Glibc
#endif
import HTTPCore
import JSON
import NetIO
import Postgres
import SCIMCore
import Synchronization
import Telemetry
package import Lifecycle
import RegionSCIM

/// How the region delivers webhooks (flags of `scim-region`).
package struct WebhookDeliverySettings: Sendable {
    /// Delivery threads per process; each delivers to one endpoint at a time.
    package var workers = 2
    /// How often an idle worker looks for due endpoints.
    package var pollInterval: Duration = .milliseconds(500)
    /// Events per POST at most.
    package var batchSize = 100
    /// Body size per POST at most (a batch always holds at least one event).
    package var maxBatchBytes = 1 << 20
    /// Batches sent to one endpoint before the worker lets other endpoints go first.
    package var batchesPerClaim = 20
    /// Consecutive failures of one batch before it is dead-lettered and the endpoint stops.
    package var maxAttempts = 15
    /// Back-off between attempts.
    package var retry = RetrySchedule(baseMillis: 5_000, capMillis: 3_600_000)
    /// How long a claim on an endpoint lasts (renewed with every delivered batch); another replica may take the
    /// endpoint over once it lapses, e.g. after this process died mid-delivery. At least twice `requestTimeout`.
    package var lease: Duration = .seconds(60)
    /// Deadline for one POST (connect, TLS, send, answer).
    package var requestTimeout: Duration = .seconds(10)
    /// Plain http to non-loopback hosts (development only).
    package var allowInsecureHTTP = false
    /// Extra trusted CA certificates (PEM) besides the system store.
    package var trustedCAFile: String? = nil
    /// The region's public SCIM base URL (for `meta.location` in event payloads).
    package var baseURL = ""

    /// Defaults (15 attempts over about eight hours: 5 s doubling to an hour, with jitter).
    package init() {}
}
