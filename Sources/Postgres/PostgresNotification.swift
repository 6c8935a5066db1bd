import CLibPQ
import Glibc
import Synchronization
import Locking

/// A notification received on a LISTENed channel.
public struct PostgresNotification: Sendable, Hashable {
    /// The channel name.
    public let channel: String
    /// The payload (empty if none was sent).
    public let payload: String
    /// The server process that sent it.
    public let senderPID: Int32

    /// A notification value (mostly for tests).
    public init(channel: String, payload: String, senderPID: Int32) {
        self.channel = channel
        self.payload = payload
        self.senderPID = senderPID
    }
}
