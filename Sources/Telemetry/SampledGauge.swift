import Synchronization

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
