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

protocol MetricFamily: Sendable {
    func render(into out: inout String)
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

/// Series storage shared by the metric kinds: sharded by label values.
final class SeriesTable<Series: AnyObject & Sendable>: Sendable {
    private final class Shard: Sendable {
        let series = Lock<[[String]: Series]>([:])
    }
    private let shards: [Shard] = (0..<16).map { _ in Shard() }
    private let make: @Sendable () -> Series

    init(make: @escaping @Sendable () -> Series) { self.make = make }

    func series(_ labels: [String]) -> Series {
        let shard = shards[Int(UInt(bitPattern: labels.hashValue) % 16)]
        return shard.series.withLock { table in
            if let s = table[labels] { return s }
            let s = make()
            table[labels] = s
            return s
        }
    }

    var all: [([String], Series)] {
        shards.flatMap { $0.series.withLock { Array($0.map { ($0.key, $0.value) }) } }
            .sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }
}

final class AtomicDouble: Sendable {
    // Stored as bit patterns; updated with a compare-and-swap loop.
    private let bits = Atomic<UInt64>(0)
    func add(_ v: Double) {
        var old = bits.load(ordering: .relaxed)
        while true {
            let new = (Double(bitPattern: old) + v).bitPattern
            let (exchanged, current) = bits.compareExchange(expected: old, desired: new, ordering: .relaxed)
            if exchanged { return }
            old = current
        }
    }
    func set(_ v: Double) { bits.store(v.bitPattern, ordering: .relaxed) }
    var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
}

/// A monotonically increasing count.
public final class Counter: MetricFamily {
    final class Series: Sendable { let value = Atomic<Int>(0) }
    let name: String, help: String, labelNames: [String]
    private let table = SeriesTable { Series() }

    init(name: String, help: String, labelNames: [String]) {
        self.name = name; self.help = help; self.labelNames = labelNames
    }

    public func increment(_ labels: [String] = [], by n: Int = 1) {
        table.series(labels).value.add(n, ordering: .relaxed)
    }

    public func value(_ labels: [String] = []) -> Int { table.series(labels).value.load(ordering: .relaxed) }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
        for (labels, s) in table.all { out += "\(name)\(labelText(labelNames, labels)) \(s.value.load(ordering: .relaxed))\n" }
    }
}

/// A value that goes up and down.
public final class Gauge: MetricFamily {
    let name: String, help: String, labelNames: [String]
    private let table = SeriesTable { AtomicDouble() }

    init(name: String, help: String, labelNames: [String]) {
        self.name = name; self.help = help; self.labelNames = labelNames
    }

    public func set(_ labels: [String] = [], _ v: Double) { table.series(labels).set(v) }
    public func add(_ labels: [String] = [], _ v: Double) { table.series(labels).add(v) }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
        for (labels, s) in table.all { out += "\(name)\(labelText(labelNames, labels)) \(formatNumber(s.value))\n" }
    }
}

final class SampledGauge: MetricFamily {
    let name: String, help: String, labelNames: [String]
    let sample: @Sendable () -> [([String], Double)]

    init(name: String, help: String, labelNames: [String], sample: @escaping @Sendable () -> [([String], Double)]) {
        self.name = name; self.help = help; self.labelNames = labelNames; self.sample = sample
    }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
        for (labels, v) in sample() { out += "\(name)\(labelText(labelNames, labels)) \(formatNumber(v))\n" }
    }
}

/// Observations in cumulative buckets (latencies in seconds by default).
public final class Histogram: MetricFamily {
    /// Seconds: 0.5 ms … 10 s.
    public static let latencyBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    final class Cell: Sendable { let value = Atomic<Int>(0) }

    final class Series: Sendable {
        let counts: [Cell]
        let count = Atomic<Int>(0)
        let sum = AtomicDouble()
        init(buckets: Int) { counts = (0..<buckets).map { _ in Cell() } }
    }

    let name: String, help: String, labelNames: [String], buckets: [Double]
    private let table: SeriesTable<Series>

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        self.name = name; self.help = help; self.labelNames = labelNames; self.buckets = buckets
        let n = buckets.count
        table = SeriesTable { Series(buckets: n) }
    }

    public func observe(_ labels: [String] = [], _ v: Double) {
        let s = table.series(labels)
        if let i = buckets.firstIndex(where: { v <= $0 }) { s.counts[i].value.add(1, ordering: .relaxed) }
        s.count.add(1, ordering: .relaxed)
        s.sum.add(v)
    }

    public func count(_ labels: [String] = []) -> Int { table.series(labels).count.load(ordering: .relaxed) }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (labels, s) in table.all {
            var cumulative = 0
            for (i, bound) in buckets.enumerated() {
                cumulative += s.counts[i].value.load(ordering: .relaxed)
                out += "\(name)_bucket\(labelText(labelNames, labels, extra: ("le", formatNumber(bound)))) \(cumulative)\n"
            }
            let total = s.count.load(ordering: .relaxed)
            out += "\(name)_bucket\(labelText(labelNames, labels, extra: ("le", "+Inf"))) \(total)\n"
            out += "\(name)_sum\(labelText(labelNames, labels)) \(formatNumber(s.sum.value))\n"
            out += "\(name)_count\(labelText(labelNames, labels)) \(total)\n"
        }
    }
}
