import CLibPQ
import Glibc
import Synchronization

/// Transaction isolation levels for `transaction(isolation:…)`.
public enum IsolationLevel: Sendable {
    case readCommitted
    case repeatableRead
    case serializable

    var sql: String {
        switch self {
        case .readCommitted: "READ COMMITTED"
        case .repeatableRead: "REPEATABLE READ"
        case .serializable: "SERIALIZABLE"
        }
    }
}
