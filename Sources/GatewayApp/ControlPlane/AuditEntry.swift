import JSON
import Postgres

struct AuditEntry: Sendable, Equatable {
    var id: Int64
    var at: String
    var actor: String
    var action: String
    var tenantID: String?
    var tokenID: String?
    var detail: JSONValue
}
