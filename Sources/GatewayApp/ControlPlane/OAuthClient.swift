import Postgres

/// An OAuth client's metadata (docs/oauth.md); its secret is never stored, only HMACs of the current one and,
/// during a rotation's grace window, of the previous one.
struct OAuthClient: Sendable, Equatable {
    var id: String
    var tenantID: String
    var hash: [UInt8]
    var pepperID: String
    var previousHash: [UInt8]?
    var previousPepperID: String?
    var previousExpiresAt: PostgresTimestamp?
    var tokenLifetimeSeconds: Int
    var label: String?
    var createdBy: String
    var createdAt: PostgresTimestamp
    var secretRotatedAt: PostgresTimestamp?
    var lastUsedAt: PostgresTimestamp?
    var revokedAt: PostgresTimestamp?
    var revokedReason: String?
    /// Unexpired, unrevoked access tokens it holds (filled in listings only).
    var liveAccessTokens: Int = 0

    /// Access-token lifetimes an operator may choose: 5 minutes to 6 hours (Microsoft's gallery expects 60–360
    /// minutes); one hour by default. The gateway's `--oauth-min-token-lifetime` lowers the floor (tests, demos of
    /// expiry); the database accepts 1 s to 6 h.
    static let defaultMinimumLifetime = 300
    static let maximumLifetime = 21_600
    static let defaultLifetime = 3600

    /// The previous secret, while its grace window lasts.
    func previous(nowMicros: Int64) -> (hash: [UInt8], pepperID: String)? {
        guard let h = previousHash, let p = previousPepperID, let e = previousExpiresAt,
              e.microsecondsSinceEpoch > nowMicros else { return nil }
        return (h, p)
    }
}
