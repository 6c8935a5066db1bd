import HTTPCore
import NetIO
import RegionLink
import ServerRuntime
import Telemetry
import JSON

/// How the gateway reaches every region: the data-plane pool's limits and timeouts, and the breaker's thresholds.
struct RegionLinkSettings: Sendable {
    var upstream = UpstreamConfiguration()
    var breakerFailures = 5
    var breakerOpenDuration: Duration = .seconds(2)
    var client = HTTPClientConfiguration()
}
