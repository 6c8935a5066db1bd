import JSON
import Postgres
import SCIMCore
import Synchronization
import Telemetry
import Locking
import Lifecycle

/// Decides which dynamic statements (list queries, whose SQL depends on the filter's shape, not its values) run as
/// prepared statements: parsing and planning them again on every request is most of a filtered lookup's cost.
/// Only the first `capacity` distinct shapes are prepared, so a client sending ever-new filter shapes cannot make
/// every pooled session accumulate prepared statements without bound; later shapes run unprepared.
final class StatementShapes: Sendable {
    private let known = Lock<Set<String>>([])
    let capacity: Int
    let maxLength: Int

    init(capacity: Int = 128, maxLength: Int = 8192) {
        self.capacity = capacity
        self.maxLength = maxLength
    }

    func statement(_ sql: String, _ values: [PostgresValue]) -> PostgresStatement {
        guard sql.utf8.count <= maxLength else { return .sql(sql, values) }
        let prepared = known.withLock { set -> Bool in
            if set.contains(sql) { return true }
            guard set.count < capacity else { return false }
            set.insert(sql)
            return true
        }
        return prepared ? .prepared(PreparedStatement(sql), values) : .sql(sql, values)
    }
}
