#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
import HTTPCore
import Lifecycle

/// The reply handle of one deferred request: the connection it belongs to and how its answer is framed.
final class DeferredReply: HTTPReply {
    let core: ServerCore
    let connection: Connection
    let keepAlive: Bool
    let headOnly: Bool
    private let sent = Atomic<Bool>(false)

    init(core: ServerCore, connection: Connection, keepAlive: Bool, headOnly: Bool) {
        self.core = core
        self.connection = connection
        self.keepAlive = keepAlive
        self.headOnly = headOnly
    }

    func send(_ response: HTTPResponse) {
        guard sent.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        core.deliver(response, for: self)
    }
}
