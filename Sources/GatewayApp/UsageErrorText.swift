import HTTPCore
import NetIO
import RegionLink
import ServerRuntime
import Telemetry
import JSON

/// A configuration problem found while wiring (printed as a usage error).
struct UsageErrorText: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
