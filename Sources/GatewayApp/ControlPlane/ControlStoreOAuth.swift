import JSON
import Postgres
import Crypto

/// OAuth clients and the access tokens they obtain (docs/oauth.md). Same rules as the rest of the store: every
/// change writes an audit row, and a change that must reach other replicas' caches a NOTIFY, in its transaction.
extension ControlStore {
    /// Live clients a tenant may hold at once: one per IdP connection, with room for a migration.
    static let maxLiveOAuthClientsPerTenant = 5
    /// Expired access tokens are kept this long (for the audit trail and `last_used_at`), then deleted when the
    /// same client next obtains a token: rows stay bounded by issuance rate × (lifetime + this).
    static let expiredAccessTokenRetentionSeconds = 86_400

    static let oauthClientColumns = """
        id, tenant_id::text, hash, pepper_id, previous_hash, previous_pepper_id, previous_expires_at,
        token_lifetime_seconds, label, created_by, created_at, secret_rotated_at, last_used_at, revoked_at, revoked_reason
        """

    static func oauthClient(_ r: PostgresResult, _ row: Int, offset c: Int = 0) -> OAuthClient {
        OAuthClient(id: r.string(row: row, column: c)!, tenantID: r.string(row: row, column: c + 1)!,
                    hash: r.bytes(row: row, column: c + 2) ?? [], pepperID: r.string(row: row, column: c + 3)!,
                    previousHash: r.bytes(row: row, column: c + 4), previousPepperID: r.string(row: row, column: c + 5),
                    previousExpiresAt: r.timestamp(row: row, column: c + 6),
                    tokenLifetimeSeconds: Int(r.int(row: row, column: c + 7) ?? Int64(OAuthClient.defaultLifetime)),
                    label: r.string(row: row, column: c + 8), createdBy: r.string(row: row, column: c + 9)!,
                    createdAt: r.timestamp(row: row, column: c + 10)!, secretRotatedAt: r.timestamp(row: row, column: c + 11),
                    lastUsedAt: r.timestamp(row: row, column: c + 12), revokedAt: r.timestamp(row: row, column: c + 13),
                    revokedReason: r.string(row: row, column: c + 14))
    }

    struct CreatedOAuthClient: Sendable {
        var client: OAuthClient
        var credential: OAuthClientCredential
    }

    func createOAuthClient(tenantID: String, label: String?, lifetimeSeconds: Int, pepper: (id: String, secret: [UInt8]),
                           actor: String) throws(ControlPlaneError) -> CreatedOAuthClient {
        guard isUUID(tenantID) else { throw .notFound("tenant \(tenantID) not found") }
        guard (1...OAuthClient.maximumLifetime).contains(lifetimeSeconds) else {
            throw .invalid("tokenLifetimeSeconds must be at most \(OAuthClient.maximumLifetime)")
        }
        return try run { c in
            try lockTenant(c, tenantID)
            let live = try c.query("SELECT count(*) FROM oauth_clients WHERE tenant_id = $1 AND revoked_at IS NULL", [.uuid(tenantID)])
            guard Int(live.int(row: 0, column: 0) ?? 0) < Self.maxLiveOAuthClientsPerTenant else {
                throw ControlPlaneError.conflict("tenant already has \(Self.maxLiveOAuthClientsPerTenant) OAuth clients; revoke one first")
            }
            let credential = OAuthClientCredential.generate()
            let r = try c.query("""
                INSERT INTO oauth_clients (id, tenant_id, hash, pepper_id, token_lifetime_seconds, label, created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING \(Self.oauthClientColumns)
                """, [.text(credential.clientID), .uuid(tenantID), .bytes(credential.hash(pepper: pepper.secret)),
                      .text(pepper.id), .int(Int64(lifetimeSeconds)), PostgresValue(label), .text(actor)])
            try audit(c, actor: actor, action: "oauth_client.create", tenantID: tenantID, tokenID: credential.clientID,
                      detail: ["tokenLifetimeSeconds": .number(JSONNumber(lifetimeSeconds))])
            return CreatedOAuthClient(client: Self.oauthClient(r, 0), credential: credential)
        }
    }

    /// A tenant's clients, newest last, with how many live access tokens each holds.
    func oauthClients(tenantID: String) throws(ControlPlaneError) -> [OAuthClient] {
        guard isUUID(tenantID) else { return [] }
        return try run { c in
            let r = try c.query("""
                SELECT \(Self.oauthClientColumns),
                       (SELECT count(*) FROM tokens k WHERE k.oauth_client_id = o.id AND k.revoked_at IS NULL AND k.expires_at > now())
                FROM oauth_clients o WHERE tenant_id = $1 ORDER BY created_at, id
                """, [.uuid(tenantID)])
            return (0..<r.rowCount).map { row in
                var client = Self.oauthClient(r, row)
                client.liveAccessTokens = Int(r.int(row: row, column: 15) ?? 0)
                return client
            }
        }
    }

    /// The client and its tenant, for the token endpoint (never cached: issuance is rare and must see a revocation
    /// at once).
    func oauthClientForTokenRequest(id: String) throws(ControlPlaneError) -> (OAuthClient, Tenant)? {
        try run { c in
            let r = try c.query(PreparedStatement("""
                SELECT o.id, o.tenant_id::text, o.hash, o.pepper_id, o.previous_hash, o.previous_pepper_id, o.previous_expires_at,
                       o.token_lifetime_seconds, o.label, o.created_by, o.created_at, o.secret_rotated_at, o.last_used_at,
                       o.revoked_at, o.revoked_reason,
                       \(Self.joinedTenantColumns)
                FROM oauth_clients o JOIN tenants t ON t.id = o.tenant_id
                WHERE o.id = $1 AND t.deleted_at IS NULL
                """), [.text(id)])
            guard r.rowCount == 1 else { return nil }
            return (Self.oauthClient(r, 0), Self.tenant(r, 0, offset: 15))
        }
    }

    /// A new secret; the previous one keeps working until the grace window ends (0: at once). A rotation during
    /// another's grace window replaces that previous secret: only the one before the new secret stays.
    func rotateOAuthClientSecret(tenantID: String, clientID: String, graceSeconds: Int, pepper: (id: String, secret: [UInt8]),
                                 actor: String) throws(ControlPlaneError) -> CreatedOAuthClient {
        guard isUUID(tenantID) else { throw .notFound("tenant \(tenantID) not found") }
        return try run { c in
            let credential = OAuthClientCredential(clientID: clientID, secret: "").withNewSecret()
            let r = try c.query("""
                UPDATE oauth_clients SET
                    previous_hash = CASE WHEN $4 > 0 THEN hash END,
                    previous_pepper_id = CASE WHEN $4 > 0 THEN pepper_id END,
                    previous_expires_at = CASE WHEN $4 > 0 THEN now() + make_interval(secs => $4) END,
                    hash = $3, pepper_id = $5, secret_rotated_at = now()
                WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL
                RETURNING \(Self.oauthClientColumns)
                """, [.uuid(tenantID), .text(clientID), .bytes(credential.hash(pepper: pepper.secret)),
                      .int(Int64(graceSeconds)), .text(pepper.id)])
            guard r.rowCount == 1 else { throw ControlPlaneError.notFound("no unrevoked OAuth client \(clientID) for tenant \(tenantID)") }
            try audit(c, actor: actor, action: "oauth_client.rotate_secret", tenantID: tenantID, tokenID: clientID,
                      detail: ["graceSeconds": .number(JSONNumber(graceSeconds))])
            return CreatedOAuthClient(client: Self.oauthClient(r, 0), credential: credential)
        }
    }

    /// Changes the lifetime of tokens issued from now on, or the label.
    func updateOAuthClient(tenantID: String, clientID: String, lifetimeSeconds: Int?, label: String??,
                           actor: String) throws(ControlPlaneError) -> OAuthClient {
        guard isUUID(tenantID) else { throw .notFound("tenant \(tenantID) not found") }
        if let l = lifetimeSeconds, !(1...OAuthClient.maximumLifetime).contains(l) {
            throw .invalid("tokenLifetimeSeconds must be at most \(OAuthClient.maximumLifetime)")
        }
        return try run { c in
            let r = try c.query("""
                UPDATE oauth_clients SET token_lifetime_seconds = COALESCE($3, token_lifetime_seconds),
                       label = CASE WHEN $4 THEN $5 ELSE label END
                WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL
                RETURNING \(Self.oauthClientColumns)
                """, [.uuid(tenantID), .text(clientID), PostgresValue(lifetimeSeconds), .bool(label != nil),
                      PostgresValue(label ?? nil)])
            guard r.rowCount == 1 else { throw ControlPlaneError.notFound("no unrevoked OAuth client \(clientID) for tenant \(tenantID)") }
            var detail = JSONObject()
            if let l = lifetimeSeconds { detail.appendUnchecked(key: "tokenLifetimeSeconds", value: .number(JSONNumber(l))) }
            if label != nil { detail.appendUnchecked(key: "label", value: .string("changed")) }
            try audit(c, actor: actor, action: "oauth_client.update", tenantID: tenantID, tokenID: clientID, detail: detail)
            return Self.oauthClient(r, 0)
        }
    }

    /// Revokes the client and every access token it holds, at once on every replica (NOTIFY in the transaction).
    func revokeOAuthClient(tenantID: String, clientID: String, reason: String, actor: String) throws(ControlPlaneError) -> OAuthClient {
        guard isUUID(tenantID) else { throw .notFound("tenant \(tenantID) not found") }
        return try run { c in
            let r = try c.query("""
                UPDATE oauth_clients SET revoked_at = now(), revoked_reason = $3
                WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING \(Self.oauthClientColumns)
                """, [.uuid(tenantID), .text(clientID), .text(reason)])
            guard r.rowCount == 1 else { throw ControlPlaneError.notFound("no unrevoked OAuth client \(clientID) for tenant \(tenantID)") }
            let killed = try c.execute("""
                UPDATE tokens SET revoked_at = now(), revoked_reason = 'oauth client revoked'
                WHERE oauth_client_id = $1 AND revoked_at IS NULL AND expires_at > now()
                """, [.text(clientID)])
            try audit(c, actor: actor, action: "oauth_client.revoke", tenantID: tenantID, tokenID: clientID,
                      detail: ["reason": .string(reason), "accessTokensRevoked": .number(JSONNumber(killed))])
            // Drops every cached token row of the tenant on every replica; the next use re-reads it (now revoked).
            try notify(c, "tenant:\(tenantID)")
            return Self.oauthClient(r, 0)
        }
    }

    /// Issues an access token for an authenticated client, unless it was revoked meanwhile (the row lock orders
    /// this against `revokeOAuthClient`: either the revocation sees the new token or this sees the revocation).
    func issueAccessToken(client: OAuthClient, pepper: (id: String, secret: [UInt8])) throws(ControlPlaneError) -> IssuedToken? {
        try run { c in
            let live = try c.query("""
                UPDATE oauth_clients SET last_used_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING token_lifetime_seconds
                """, [.text(client.id)])
            guard live.rowCount == 1 else { return nil }
            let lifetime = Int(live.int(row: 0, column: 0) ?? Int64(OAuthClient.defaultLifetime))
            _ = try c.execute("""
                DELETE FROM tokens WHERE oauth_client_id = $1 AND expires_at < now() - make_interval(secs => $2)
                """, [.text(client.id), .int(Int64(Self.expiredAccessTokenRetentionSeconds))])
            let expires = PostgresTimestamp(microsecondsSinceEpoch: try Self.databaseNowMicros(c) + Int64(lifetime) * 1_000_000)
            let actor = "oauth:" + client.id
            let issued = try insertToken(c, tenantID: client.tenantID, label: "oauth access token", expiresAt: expires,
                                         pepper: pepper, actor: actor, kind: .access, oauthClientID: client.id)
            try audit(c, actor: actor, action: "oauth.token_issue", tenantID: client.tenantID, tokenID: issued.record.id,
                      detail: ["client": .string(client.id), "expiresIn": .number(JSONNumber(lifetime))])
            return issued
        }
    }

    private static func databaseNowMicros(_ c: PostgresConnection) throws -> Int64 {
        let r = try c.query("SELECT (extract(epoch FROM now()) * 1000000)::bigint")
        return r.int(row: 0, column: 0) ?? 0
    }

    /// Re-hashes a client's current secret under the current pepper after a successful use (pepper rotation).
    func rehashOAuthClient(id: String, fromPepper old: String, hash: [UInt8], pepperID: String) throws(ControlPlaneError) {
        _ = try run { c in
            try c.execute("UPDATE oauth_clients SET hash = $3, pepper_id = $4 WHERE id = $1 AND pepper_id = $2",
                          [.text(id), .text(old), .bytes(hash), .text(pepperID)])
        }
    }
}
