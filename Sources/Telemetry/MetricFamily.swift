import Synchronization
import Locking

protocol MetricFamily: Sendable {
    func render(into out: inout String)
}
