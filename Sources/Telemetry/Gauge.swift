import Synchronization
import Locking

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
