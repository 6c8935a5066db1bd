import JSON
import Postgres
import Crypto

/// Control-plane failures the admin API turns into statuses. Messages name ids, never secrets.
enum ControlPlaneError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case conflict(String)
    case invalid(String)
    case unavailable(String)

    var description: String {
        switch self {
        case .notFound(let m), .conflict(let m), .invalid(let m), .unavailable(let m): m
        }
    }

    static func from(_ error: any Error) -> ControlPlaneError {
        if let e = error as? ControlPlaneError { return e }
        if let p = error as? PostgresError {
            if p.kind == .uniqueViolation { return .conflict("already exists") }
            // A parameter PostgreSQL cannot take (a NUL character in text): the caller's input, not an outage.
            if p.kind == .invalidParameter { return .invalid("a value contains a character that cannot be stored (NUL)") }
            return .unavailable("control-plane database unavailable (\(p.kind))")
        }
        if let r = error as? RegionInternalClient.Failure {
            // The home region refused or could not be reached: the transaction rolls back, nothing changed.
            if case .refused(let status, _) = r, (400...499).contains(status) { return .invalid(r.description) }
            return .unavailable("\(r.description); nothing was changed")
        }
        return .unavailable("control-plane error")
    }
}
