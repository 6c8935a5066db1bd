#if canImport(Glibc)
import Glibc
#endif
import Crypto
import HTTPCore
import JSON
import NetIO
import Postgres
import RegionLink
import ServerRuntime
import Synchronization
import Telemetry

/// What a handler sees.
struct AdminCall: Sendable {
    var request: HTTPRequest
    var parameters: RouteParameters
    var query: QueryParameters
    /// `admin:<key id>`, written to the audit log.
    var actor: String
    var requestID: String

    func body() throws(AdminError) -> JSONObject {
        if request.body.isEmpty { return JSONObject() }
        guard case .object(let o)? = try? JSONDecoder.decode(request.body) else {
            throw .badRequest("request body must be a JSON object")
        }
        return o
    }

    func parameter(_ name: String) -> String { parameters[name] ?? "" }

    /// The optional `reason` of a revocation (token, OAuth client), kept to 200 characters for the audit log.
    var revocationReason: String { String(((try? body())?["reason"]?.string ?? "revoked by operator").prefix(200)) }
}
