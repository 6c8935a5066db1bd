import Postgres

/// A setup link's metadata (docs/web.md); the secret in the link is never stored, only its HMAC.
struct SetupLink: Sendable, Equatable {
    var id: String
    var tenantID: String
    var hash: [UInt8]
    var pepperID: String
    var label: String?
    var createdBy: String
    var createdAt: PostgresTimestamp
    var expiresAt: PostgresTimestamp
    var lastUsedAt: PostgresTimestamp?
    var uses: Int
    var revokedAt: PostgresTimestamp?

    /// Default and longest lifetimes: a week, a month.
    static let defaultLifetimeSeconds = 7 * 86_400
    static let maximumLifetimeSeconds = 30 * 86_400

    enum Status: String, Sendable { case live, expired, revoked }

    func status(nowMicros: Int64) -> Status {
        if revokedAt != nil { return .revoked }
        return expiresAt.microsecondsSinceEpoch <= nowMicros ? .expired : .live
    }
}
