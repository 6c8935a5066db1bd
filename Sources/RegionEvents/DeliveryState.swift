import Crypto
import HTTPCore
import RegionSCIM

/// An endpoint's delivery state, as the endpoint row records it (`attempts`, `dead_lettered_at`).
enum DeliveryState: Sendable, Equatable {
    /// The last delivery (if any) succeeded.
    case healthy
    /// The pending batch failed `attempts` times in a row; another attempt is scheduled.
    case retrying(attempts: Int)
    /// The pending batch failed the maximum number of times: delivery is stopped until redelivery is requested.
    case deadLettered(attempts: Int)

    init(attempts: Int, deadLettered: Bool) {
        if deadLettered { self = .deadLettered(attempts: attempts) }
        else if attempts > 0 { self = .retrying(attempts: attempts) }
        else { self = .healthy }
    }

    /// What to do after a failed attempt.
    enum FailureAction: Sendable, Equatable {
        /// Schedule attempt number `attempts + 1` after the back-off delay.
        case retry(attempts: Int)
        /// Give up on this batch: record a dead letter and stop.
        case deadLetter(attempts: Int)
    }

    /// A batch was delivered.
    mutating func delivered() {
        switch self {
        case .healthy, .retrying: self = .healthy
        case .deadLettered: preconditionFailure("a dead-lettered endpoint is not delivered to")
        }
    }

    /// A batch failed; `maxAttempts` is the number of attempts before it is dead-lettered.
    mutating func failed(maxAttempts: Int) -> FailureAction {
        let attempts: Int
        switch self {
        case .healthy: attempts = 1
        case .retrying(let n): attempts = n + 1
        case .deadLettered: preconditionFailure("a dead-lettered endpoint is not delivered to")
        }
        if attempts >= maxAttempts {
            self = .deadLettered(attempts: attempts)
            return .deadLetter(attempts: attempts)
        }
        self = .retrying(attempts: attempts)
        return .retry(attempts: attempts)
    }

    /// The name the API reports.
    var name: String {
        switch self {
        case .healthy: "active"
        case .retrying: "retrying"
        case .deadLettered: "dead_lettered"
        }
    }

    /// Redelivery was requested: start over with a fresh attempt count.
    mutating func redeliver() { self = .healthy }
}
