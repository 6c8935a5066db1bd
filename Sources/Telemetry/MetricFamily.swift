import Synchronization

protocol MetricFamily: Sendable {
    func render(into out: inout String)
}
