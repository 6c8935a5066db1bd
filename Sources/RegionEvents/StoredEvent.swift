import Crypto
import JSON
import Postgres
import SCIMCore
import RegionSCIM

/// One stored event, as read from the outbox.
struct StoredEvent: Sendable {
    var position: EventPosition
    var type: String
    var resourceID: String
    var occurredAt: PostgresTimestamp
    /// The stored `data` column (JSON text).
    var data: [UInt8]
}
