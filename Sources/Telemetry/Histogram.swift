import Synchronization
import Locking

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
