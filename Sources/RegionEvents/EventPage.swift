import Crypto
import JSON
import Postgres
import SCIMCore
import RegionSCIM

/// One page of events and where to continue.
struct EventPage: Sendable {
    var events: [StoredEvent]
    /// Where the next read starts: the last event returned, or — when the page holds everything visible — the
    /// horizon, so an idle reader's cursor moves forward too.
    var next: EventPosition
    /// Whether more events were already visible past this page.
    var hasMore: Bool
}
