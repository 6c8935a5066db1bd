#if canImport(Glibc)
import Glibc
#endif
import Lifecycle
import Telemetry

/// The first step of a region replica's shutdown (it is started last, so it stops first): `/readyz` turns 503
/// and the process keeps serving for `delay` while listening, so every gateway's health probe (every
/// `--health-interval`, 1 s by default) takes it out of the region's replica set before the listener closes. Then
/// the HTTP server stops accepting, finishes in-flight requests and closes idle connections. Without the delay a
/// request a gateway sent just as the listener closed would be refused (the gateway sends that one to another
/// replica) or, worse, written on a keep-alive connection the replica was closing (a POST there cannot be
/// repeated: 503). Make it longer than the gateways' health interval plus one probe.
struct DrainDelay: Service {
    let readiness: Readiness
    let delay: Duration
    let logger: Logger
    var name: String { "drain" }

    func start() throws {}

    func shutdown(gracePeriod: Duration) {
        readiness.markDraining()
        guard delay > .zero else { return }
        logger.notice("draining: not ready, still serving", [("delay_ms", .int(Int64(delay.nanoseconds / 1_000_000)))])
        let nanos = min(delay, gracePeriod).nanoseconds
        var request = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
