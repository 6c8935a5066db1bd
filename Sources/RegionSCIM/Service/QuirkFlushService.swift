import JSON
import NetIO
import Postgres
import SCIMCore
import ServerRuntime
import Synchronization
import Telemetry
import Locking
import Lifecycle

/// Flushes `QuirkCounts` to the database every `interval`, and once more at shutdown (after the HTTP server has
/// drained, when it is started before it).
package final class QuirkFlushService: Service {
    package var name: String { "quirk-flush" }
    let counts: QuirkCounts
    let database: RegionDatabase
    let interval: Duration
    private let thread = PeriodicThread(name: "quirk-flush")

    /// A flusher for `counts` into `database`.
    package init(counts: QuirkCounts, database: RegionDatabase, interval: Duration = .seconds(10)) {
        self.counts = counts
        self.database = database
        self.interval = interval
    }

    package func start() throws {
        thread.start(interval: interval) { [counts, database] in
            counts.flush(database)
            return true
        }
    }

    package func shutdown(gracePeriod: Duration) {
        thread.stop()
        counts.flush(database)
    }
}
