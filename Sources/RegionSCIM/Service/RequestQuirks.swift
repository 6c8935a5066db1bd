package import SCIMCore
import Synchronization

/// The IdP quirks one request needed, as `SCIMService` notes them (a Bulk request's operations add theirs): what the
/// request log records as the dialect fixes applied to the request. A reference type on the request's scope, so the
/// service's result types stay as they are; one per request, filled on the request's thread. The set is one word,
/// so an atomic holds it (a lock here cost a mutex per request).
package final class RequestQuirks: Sendable, Equatable {
    private let noted = Atomic<UInt32>(0)

    package init() {}

    /// Adds quirks that fired.
    package func insert(_ quirks: QuirkSet) {
        if quirks.isEmpty { return }
        noted.bitwiseOr(quirks.rawBits, ordering: .relaxed)
    }

    /// Every quirk noted so far.
    package var all: QuirkSet { QuirkSet(rawBits: noted.load(ordering: .relaxed)) }

    package static func == (a: RequestQuirks, b: RequestQuirks) -> Bool { a === b }
}
