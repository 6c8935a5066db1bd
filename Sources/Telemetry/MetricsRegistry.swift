import Synchronization
import Locking

/// Process metrics in the Prometheus text exposition format (version 0.0.4), without dependencies.
///
/// A family has a name, help text, a type and label names; each label-value combination is a series whose
/// numbers are atomics, so recording is a sharded dictionary lookup plus an atomic add. Label values must be
/// low-cardinality ids (tenant id, region, route template, status): never user data, never secrets.
public final class MetricsRegistry: Sendable {
    private let families = Lock<[any MetricFamily]>([])

    public init() {}

    func register<F: MetricFamily>(_ family: F) -> F {
        families.withLock { $0.append(family) }
        return family
    }

    public func counter(_ name: String, _ help: String, labels: [String] = []) -> Counter {
        register(Counter(name: name, help: help, labelNames: labels))
    }

    public func gauge(_ name: String, _ help: String, labels: [String] = []) -> Gauge {
        register(Gauge(name: name, help: help, labelNames: labels))
    }

    public func histogram(_ name: String, _ help: String, labels: [String] = [],
                          buckets: [Double] = Histogram.latencyBuckets) -> Histogram {
        register(Histogram(name: name, help: help, labelNames: labels, buckets: buckets))
    }

    /// A gauge computed when scraped (pool sizes, open connections).
    public func gaugeFunction(_ name: String, _ help: String, labels: [String] = [],
                              _ sample: @escaping @Sendable () -> [([String], Double)]) {
        _ = register(SampledGauge(name: name, help: help, labelNames: labels, sample: sample))
    }

    /// The exposition text.
    public func render() -> String {
        var out = ""
        for family in families.withLock({ $0 }) { family.render(into: &out) }
        return out
    }

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}

/// Escapes a label value (backslash, double quote, newline).
func escapeLabel(_ v: String) -> String {
    var s = ""
    for c in v.unicodeScalars {
        switch c {
        case "\\": s += "\\\\"
        case "\"": s += "\\\""
        case "\n": s += "\\n"
        default: s.unicodeScalars.append(c)
        }
    }
    return s
}

func labelText(_ names: [String], _ values: [String], extra: (String, String)? = nil) -> String {
    var parts = zip(names, values).map { "\($0)=\"\(escapeLabel($1))\"" }
    if let extra { parts.append("\(extra.0)=\"\(extra.1)\"") }
    return parts.isEmpty ? "" : "{" + parts.joined(separator: ",") + "}"
}

func formatNumber(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
    return String(v)
}
