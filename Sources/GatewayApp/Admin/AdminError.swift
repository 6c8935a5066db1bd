#if canImport(Glibc)
import Glibc
#endif
import HTTPCore
import JSON
import NetIO
import Postgres
import RegionLink
import ServerRuntime
import Synchronization
import Telemetry

/// An admin API failure: HTTP status, a stable code, a message (never a secret). Renders as
/// `{"status": 404, "error": "not_found", "message": "…"}` (see `HTTPResponseError`).
struct AdminError: HTTPResponseError {
    var status: Int
    var code: String
    var message: String

    static func badRequest(_ m: String) -> AdminError { AdminError(status: 400, code: "invalid_request", message: m) }
    static func notFound(_ m: String) -> AdminError { AdminError(status: 404, code: "not_found", message: m) }
    static func conflict(_ m: String) -> AdminError { AdminError(status: 409, code: "conflict", message: m) }
    static func unavailable(_ m: String) -> AdminError { AdminError(status: 503, code: "unavailable", message: m) }

    /// Extra headers (`WWW-Authenticate` on 401, `Allow` on 405).
    var responseHeaders: [(String, String)] = []

    init(status: Int, code: String, message: String, headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.responseHeaders = headers
    }

    func responseBody(accept: String?) -> (contentType: String, body: [UInt8]) {
        ("application/json", JSONValue.object(["status": .number(JSONNumber(status)), "error": .string(code),
                                               "message": .string(message)]).encoded())
    }

    /// Any error from a handler's collaborators, mapped to a status.
    static func converting(_ error: any Error) -> AdminError {
        if let e = error as? AdminError { return e }
        if let e = error as? ControlPlaneError { return AdminError(e) }
        return .unavailable("internal error")
    }

    init(_ e: ControlPlaneError) {
        switch e {
        case .notFound(let m): self = .notFound(m)
        case .conflict(let m): self = .conflict(m)
        case .invalid(let m): self = .badRequest(m)
        case .unavailable(let m): self = .unavailable(m)
        }
    }
}
