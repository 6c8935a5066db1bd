import Synchronization
import Locking

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
