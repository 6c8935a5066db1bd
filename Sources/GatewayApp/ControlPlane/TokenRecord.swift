import JSON
import Postgres
import Crypto

/// A token's metadata; the secret is never stored, only its HMAC.
struct TokenRecord: Sendable, Equatable {
    var id: String
    var tenantID: String
    var hash: [UInt8]
    var pepperID: String
    var label: String?
    var createdBy: String
    var createdAt: PostgresTimestamp
    var lastUsedAt: PostgresTimestamp?
    var expiresAt: PostgresTimestamp?
    var revokedAt: PostgresTimestamp?
    var revokedReason: String?
    /// Set on an OAuth access token: the client that obtained it (such a token always has `expiresAt`).
    var oauthClientID: String? = nil

    enum Status: String, Sendable { case live, expiring, expired, revoked }

    /// `expiring`: live now, but stops by itself at `expiresAt` (a rotation's grace window or an expiry).
    func status(nowMicros: Int64) -> Status {
        if revokedAt != nil { return .revoked }
        if let e = expiresAt {
            return e.microsecondsSinceEpoch <= nowMicros ? .expired : .expiring
        }
        return .live
    }

}
