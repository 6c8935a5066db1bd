import Synchronization

/// A flag the first of several racing parties claims (an answer and its deadline: whoever comes first replies).
final class Once: Sendable {
    private let claimed = Atomic<Bool>(false)

    func claim() -> Bool {
        claimed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}
