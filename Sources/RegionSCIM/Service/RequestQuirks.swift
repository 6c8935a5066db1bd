package import SCIMCore
import Locking

/// The IdP quirks one request needed, as `SCIMService` notes them (a Bulk request's operations add theirs): what the
/// request log records as the dialect fixes applied to the request. A reference type on the request's scope, so the
/// service's result types stay as they are; one per request, filled on the request's thread.
package final class RequestQuirks: Sendable, Equatable {
    private let noted = Lock<QuirkSet>(QuirkSet())

    package init() {}

    /// Adds quirks that fired.
    package func insert(_ quirks: QuirkSet) {
        if quirks.isEmpty { return }
        noted.withLock { $0.formUnion(quirks) }
    }

    /// Every quirk noted so far.
    package var all: QuirkSet { noted.withLock { $0 } }

    package static func == (a: RequestQuirks, b: RequestQuirks) -> Bool { a === b }
}
