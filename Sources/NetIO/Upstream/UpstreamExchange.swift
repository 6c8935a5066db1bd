#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
public import HTTPCore
import Telemetry
import Locking

/// One in-flight request: its bytes, deadlines and completion. Touched by whoever owns the connection it runs on,
/// or under the pool lock while it waits in the queue.
final class UpstreamExchange: @unchecked Sendable {
    // @unchecked: see above; the completion runs once (`finish`).
    let bytes: [UInt8]
    let isHead: Bool
    let idempotent: Bool
    let totalDeadline: UInt64
    var attempts = 0
    /// An earlier attempt was written to a connection that then closed without an answer (see `retry`): the upstream
    /// may have processed it, whatever the later attempt's failure says.
    var reachedBefore = false
    private let completion: @Sendable (Result<HTTPResponse, UpstreamError>) -> Void
    private let done = Atomic<Bool>(false)

    init(bytes: [UInt8], isHead: Bool, idempotent: Bool, totalDeadline: UInt64,
         completion: @escaping @Sendable (Result<HTTPResponse, UpstreamError>) -> Void) {
        self.bytes = bytes
        self.isHead = isHead
        self.idempotent = idempotent
        self.totalDeadline = totalDeadline
        self.completion = completion
    }

    func finish(_ result: Result<HTTPResponse, UpstreamError>) {
        guard done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        if reachedBefore, case .failure(var error) = result, !error.mayHaveReached {
            // E.g. a retried DELETE whose first attempt the upstream committed before it died, and whose retry found
            // nothing listening: "never reached" would be untrue (the gateway's residency header, a client's retry).
            error.mayHaveReached = true
            completion(.failure(error))
            return
        }
        completion(result)
    }
}
