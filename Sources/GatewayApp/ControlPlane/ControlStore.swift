import JSON
import Postgres
import Crypto

/// Reads and writes the control plane. Every change writes an audit row and a NOTIFY in the same transaction,
/// so replicas drop cached state exactly when the change commits.
final class ControlStore: Sendable {
    let pool: PostgresPool
    /// Live (unrevoked, unexpired) tokens a tenant may hold at once: enough for rotation overlap and a spare.
    let maxLiveTokensPerTenant: Int

    init(pool: PostgresPool, maxLiveTokensPerTenant: Int = 5) {
        self.pool = pool
        self.maxLiveTokensPerTenant = maxLiveTokensPerTenant
    }

    func migrate() throws {
        _ = try Migrator.migrate(pool, migrations: ControlPlaneSchema.migrations)
    }

    func run<R>(_ body: (PostgresConnection) throws -> R) throws(ControlPlaneError) -> R {
        do {
            return try pool.withTransaction(body)
        } catch {
            throw ControlPlaneError.from(error)
        }
    }

    static let tenantColumns = """
        id::text, name, home_region, integration_state, deprovision_policy, rate_limit_per_second, rate_limit_burst,
        settings::text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        """

    /// `tenantColumns` of a `tenants t` joined to another table (credential lookups read both in one query).
    static let joinedTenantColumns = """
        t.id::text, t.name, t.home_region, t.integration_state, t.deprovision_policy, t.rate_limit_per_second,
        t.rate_limit_burst, t.settings::text, to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        """

    static func tenant(_ r: PostgresResult, _ row: Int, offset c: Int = 0) -> Tenant {
        let settingsText = r.string(row: row, column: c + 7) ?? "{}"
        let settings = (try? JSONDecoder.decode(settingsText))?.object ?? JSONObject()
        return Tenant(id: r.string(row: row, column: c)!, name: r.string(row: row, column: c + 1)!,
                      homeRegion: r.string(row: row, column: c + 2)!,
                      integrationState: Tenant.IntegrationState(rawValue: r.string(row: row, column: c + 3)!) ?? .deactivated,
                      deprovisionPolicy: Tenant.DeprovisionPolicy(rawValue: r.string(row: row, column: c + 4)!) ?? .soft,
                      rateLimitPerSecond: r.int(row: row, column: c + 5).map(Int.init),
                      rateLimitBurst: r.int(row: row, column: c + 6).map(Int.init),
                      settings: settings,
                      createdAt: r.string(row: row, column: c + 8) ?? "", updatedAt: r.string(row: row, column: c + 9) ?? "")
    }

    static let tokenColumns = """
        id, tenant_id::text, hash, pepper_id, label, created_by, created_at, last_used_at, expires_at, revoked_at, revoked_reason,
        oauth_client_id
        """

    static func token(_ r: PostgresResult, _ row: Int, offset c: Int = 0) -> TokenRecord {
        TokenRecord(id: r.string(row: row, column: c)!, tenantID: r.string(row: row, column: c + 1)!,
                    hash: r.bytes(row: row, column: c + 2) ?? [], pepperID: r.string(row: row, column: c + 3)!,
                    label: r.string(row: row, column: c + 4), createdBy: r.string(row: row, column: c + 5)!,
                    createdAt: r.timestamp(row: row, column: c + 6)!, lastUsedAt: r.timestamp(row: row, column: c + 7),
                    expiresAt: r.timestamp(row: row, column: c + 8), revokedAt: r.timestamp(row: row, column: c + 9),
                    revokedReason: r.string(row: row, column: c + 10), oauthClientID: r.string(row: row, column: c + 11))
    }

    func audit(_ c: PostgresConnection, actor: String, action: String, tenantID: String?, tokenID: String? = nil,
                       detail: JSONObject = JSONObject()) throws {
        _ = try c.execute("INSERT INTO audit_log (actor, action, tenant_id, token_id, detail) VALUES ($1, $2, $3, $4, $5)",
                          [.text(actor), .text(action), tenantID.map { .uuid($0) } ?? .null, PostgresValue(tokenID),
                           .jsonb(String(decoding: JSONValue.object(detail).encoded(), as: UTF8.self))])
    }

    func notify(_ c: PostgresConnection, _ payload: String) throws {
        _ = try c.query("SELECT pg_notify($1, $2)", [.text(ControlPlaneSchema.channel), .text(payload)])
    }

    // MARK: - Tenants

    func createTenant(name: String, region: String, policy: Tenant.DeprovisionPolicy, settings: JSONObject,
                             rateLimitPerSecond: Int?, rateLimitBurst: Int?, actor: String, id requestedID: String? = nil,
                             beforeCommit: (Tenant) throws -> Void) throws(ControlPlaneError) -> Tenant {
        let id = requestedID ?? SecureRandom.uuid()
        do {
            return try pool.withTransaction { c in
                let r = try c.query("""
                    INSERT INTO tenants (id, name, home_region, deprovision_policy, settings, rate_limit_per_second, rate_limit_burst)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING \(Self.tenantColumns)
                    """, [.uuid(id), .text(name), .text(region), .text(policy.rawValue),
                          .jsonb(String(decoding: JSONValue.object(settings).encoded(), as: UTF8.self)),
                          PostgresValue(rateLimitPerSecond), PostgresValue(rateLimitBurst)])
                let tenant = Self.tenant(r, 0)
                try audit(c, actor: actor, action: "tenant.create", tenantID: id,
                          detail: ["name": .string(name), "region": .string(region), "deprovisionPolicy": .string(policy.rawValue)])
                // The home region is provisioned inside the transaction: if it fails, no tenant exists anywhere.
                try beforeCommit(tenant)
                return tenant
            }
        } catch let e as PostgresError where e.kind == .uniqueViolation {
            throw .conflict(e.constraint == "tenants_pkey" ? "a tenant with id \(id) already exists"
                                                           : "a tenant named '\(name)' already exists")
        } catch {
            throw ControlPlaneError.from(error)
        }
    }

    func tenant(id: String) throws(ControlPlaneError) -> Tenant? {
        guard isUUID(id) else { return nil }
        return try run { c in
            let r = try c.query("SELECT \(Self.tenantColumns) FROM tenants WHERE id = $1 AND deleted_at IS NULL", [.uuid(id)])
            return r.rowCount == 1 ? Self.tenant(r, 0) : nil
        }
    }

    /// By id, or by name (case-insensitive).
    func tenant(reference: String) throws(ControlPlaneError) -> Tenant? {
        if let t = try tenant(id: reference) { return t }
        return try run { c in
            let r = try c.query("SELECT \(Self.tenantColumns) FROM tenants WHERE lower(name) = lower($1) AND deleted_at IS NULL",
                                [.text(reference)])
            return r.rowCount == 1 ? Self.tenant(r, 0) : nil
        }
    }

    func tenants() throws(ControlPlaneError) -> [Tenant] {
        try run { c in
            let r = try c.query("SELECT \(Self.tenantColumns) FROM tenants WHERE deleted_at IS NULL ORDER BY created_at, id")
            return (0..<r.rowCount).map { Self.tenant(r, $0) }
        }
    }

    struct TenantChanges: Sendable {
        var name: String?
        var deprovisionPolicy: Tenant.DeprovisionPolicy?
        var settings: JSONObject?
        /// `.some(nil)` clears the override.
        var rateLimitPerSecond: Int??
        var rateLimitBurst: Int??
        init() {}
    }

    func updateTenant(id: String, changes: TenantChanges, actor: String,
                             beforeCommit: (Tenant) throws -> Void) throws(ControlPlaneError) -> Tenant {
        do {
            return try pool.withTransaction { c in
                var sets: [String] = []
                var params: [PostgresValue] = [.uuid(id)]
                var detail = JSONObject()
                if let name = changes.name {
                    params.append(.text(name)); sets.append("name = $\(params.count)"); detail.appendUnchecked(key: "name", value: .string(name))
                }
                if let p = changes.deprovisionPolicy {
                    params.append(.text(p.rawValue)); sets.append("deprovision_policy = $\(params.count)")
                    detail.appendUnchecked(key: "deprovisionPolicy", value: .string(p.rawValue))
                }
                if let s = changes.settings {
                    params.append(.jsonb(String(decoding: JSONValue.object(s).encoded(), as: UTF8.self)))
                    sets.append("settings = $\(params.count)")
                    detail.appendUnchecked(key: "settings", value: .string("changed"))
                }
                if let r = changes.rateLimitPerSecond {
                    params.append(PostgresValue(r)); sets.append("rate_limit_per_second = $\(params.count)")
                    detail.appendUnchecked(key: "rateLimitPerSecond", value: r.map { .number(JSONNumber($0)) } ?? .null)
                }
                if let b = changes.rateLimitBurst {
                    params.append(PostgresValue(b)); sets.append("rate_limit_burst = $\(params.count)")
                    detail.appendUnchecked(key: "rateLimitBurst", value: b.map { .number(JSONNumber($0)) } ?? .null)
                }
                sets.append("updated_at = now()")
                let r = try c.query("UPDATE tenants SET \(sets.joined(separator: ", ")) WHERE id = $1 AND deleted_at IS NULL RETURNING \(Self.tenantColumns)", params)
                guard r.rowCount == 1 else { throw ControlPlaneError.notFound("tenant \(id) not found") }
                let tenant = Self.tenant(r, 0)
                try audit(c, actor: actor, action: "tenant.update", tenantID: id, detail: detail)
                try notify(c, "tenant:\(id)")
                try beforeCommit(tenant)
                return tenant
            }
        } catch let e as PostgresError where e.kind == .uniqueViolation {
            throw .conflict("a tenant named '\(changes.name ?? "")' already exists")
        } catch {
            throw ControlPlaneError.from(error)
        }
    }

    /// Marks the tenant deleted and revokes its tokens (after `beforeCommit` purged its data in the region).
    func deleteTenant(id: String, actor: String, beforeCommit: (Tenant) throws -> Void) throws(ControlPlaneError) {
        do {
            try pool.withTransaction { c in
                let r = try c.query("UPDATE tenants SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING \(Self.tenantColumns)", [.uuid(id)])
                guard r.rowCount == 1 else { throw ControlPlaneError.notFound("tenant \(id) not found") }
                _ = try c.execute("UPDATE tokens SET revoked_at = now(), revoked_reason = 'tenant deleted' WHERE tenant_id = $1 AND revoked_at IS NULL", [.uuid(id)])
                _ = try c.execute("UPDATE oauth_clients SET revoked_at = now(), revoked_reason = 'tenant deleted' WHERE tenant_id = $1 AND revoked_at IS NULL", [.uuid(id)])
                _ = try c.execute("UPDATE setup_links SET revoked_at = now() WHERE tenant_id = $1 AND revoked_at IS NULL", [.uuid(id)])
                try audit(c, actor: actor, action: "tenant.delete", tenantID: id)
                try notify(c, "tenant:\(id)")
                try beforeCommit(Self.tenant(r, 0))
            }
        } catch {
            throw ControlPlaneError.from(error)
        }
    }

    /// Deactivate or reactivate the integration. Idempotent; the audit row says what happened.
    func setIntegrationState(id: String, _ state: Tenant.IntegrationState, actor: String) throws(ControlPlaneError) -> Tenant {
        try run { c in
            let r = try c.query("UPDATE tenants SET integration_state = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING \(Self.tenantColumns)",
                                [.uuid(id), .text(state.rawValue)])
            guard r.rowCount == 1 else { throw ControlPlaneError.notFound("tenant \(id) not found") }
            try audit(c, actor: actor, action: state == .active ? "integration.reactivate" : "integration.deactivate", tenantID: id)
            try notify(c, "tenant:\(id)")
            return Self.tenant(r, 0)
        }
    }

    // MARK: - Tokens

    struct IssuedToken: Sendable {
        var record: TokenRecord
        var credential: TokenCredential
    }

    func insertToken(_ c: PostgresConnection, tenantID: String, label: String?, expiresAt: PostgresTimestamp?,
                     pepper: (id: String, secret: [UInt8]), actor: String, kind: TokenCredential.Kind = .tenant,
                     oauthClientID: String? = nil) throws -> IssuedToken {
        let credential = TokenCredential.generate(kind)
        let r = try c.query("""
            INSERT INTO tokens (id, tenant_id, hash, pepper_id, label, created_by, expires_at, oauth_client_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING \(Self.tokenColumns)
            """, [.text(credential.id), .uuid(tenantID), .bytes(credential.hash(pepper: pepper.secret)), .text(pepper.id),
                  PostgresValue(label), .text(actor), expiresAt.map { .timestamp($0) } ?? .null, PostgresValue(oauthClientID)])
        return IssuedToken(record: Self.token(r, 0), credential: credential)
    }

    func lockTenant(_ c: PostgresConnection, _ tenantID: String) throws {
        // Serialises token changes per tenant, so the live-token cap holds under concurrent calls.
        let r = try c.query("SELECT 1 FROM tenants WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", [.uuid(tenantID)])
        guard r.rowCount == 1 else { throw ControlPlaneError.notFound("tenant \(tenantID) not found") }
    }

    private func liveTokenCount(_ c: PostgresConnection, _ tenantID: String) throws -> Int {
        let r = try c.query("SELECT count(*) FROM tokens WHERE tenant_id = $1 AND oauth_client_id IS NULL AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
                            [.uuid(tenantID)])
        return Int(r.int(row: 0, column: 0) ?? 0)
    }

    func issueToken(tenantID: String, label: String?, expiresAt: PostgresTimestamp?,
                           pepper: (id: String, secret: [UInt8]), actor: String) throws(ControlPlaneError) -> IssuedToken {
        guard isUUID(tenantID) else { throw .notFound("tenant \(tenantID) not found") }
        return try run { c in
            try lockTenant(c, tenantID)
            guard try liveTokenCount(c, tenantID) < maxLiveTokensPerTenant else {
                throw ControlPlaneError.conflict("tenant already has \(maxLiveTokensPerTenant) live tokens; revoke one first")
            }
            let issued = try insertToken(c, tenantID: tenantID, label: label, expiresAt: expiresAt, pepper: pepper, actor: actor)
            try audit(c, actor: actor, action: "token.issue", tenantID: tenantID, tokenID: issued.record.id,
                      detail: ["expiresAt": expiresAt.map { .string($0.iso8601) } ?? .null])
            return issued
        }
    }

    func tokens(tenantID: String) throws(ControlPlaneError) -> [TokenRecord] {
        guard isUUID(tenantID) else { return [] }
        return try run { c in
            let r = try c.query("SELECT \(Self.tokenColumns) FROM tokens WHERE tenant_id = $1 AND oauth_client_id IS NULL ORDER BY created_at, id", [.uuid(tenantID)])
            return (0..<r.rowCount).map { Self.token(r, $0) }
        }
    }

    /// Issues a successor and lets the old token live until the grace window ends (then it stops by itself).
    func rotateToken(tenantID: String, tokenID: String, graceSeconds: Int, pepper: (id: String, secret: [UInt8]),
                            actor: String) throws(ControlPlaneError) -> IssuedToken {
        guard isUUID(tenantID) else { throw .notFound("tenant \(tenantID) not found") }
        return try run { c in
            try lockTenant(c, tenantID)
            let r = try c.query("""
                UPDATE tokens SET expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => $3))
                WHERE tenant_id = $1 AND id = $2 AND oauth_client_id IS NULL AND revoked_at IS NULL
                  AND (expires_at IS NULL OR expires_at > now())
                RETURNING \(Self.tokenColumns)
                """, [.uuid(tenantID), .text(tokenID), .int(Int64(graceSeconds))])
            guard r.rowCount == 1 else { throw ControlPlaneError.notFound("no live token \(tokenID) for tenant \(tenantID)") }
            guard try liveTokenCount(c, tenantID) <= maxLiveTokensPerTenant else {
                throw ControlPlaneError.conflict("tenant already has \(maxLiveTokensPerTenant) live tokens; revoke one first")
            }
            let issued = try insertToken(c, tenantID: tenantID, label: Self.token(r, 0).label, expiresAt: nil, pepper: pepper, actor: actor)
            try audit(c, actor: actor, action: "token.rotate", tenantID: tenantID, tokenID: tokenID,
                      detail: ["successor": .string(issued.record.id), "graceSeconds": .number(JSONNumber(graceSeconds))])
            try notify(c, "token:\(tokenID)")
            return issued
        }
    }

    func revokeToken(tenantID: String, tokenID: String, reason: String, actor: String) throws(ControlPlaneError) -> TokenRecord {
        guard isUUID(tenantID) else { throw .notFound("tenant \(tenantID) not found") }
        return try run { c in
            let r = try c.query("""
                UPDATE tokens SET revoked_at = now(), revoked_reason = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL
                RETURNING \(Self.tokenColumns)
                """, [.uuid(tenantID), .text(tokenID), .text(reason)])
            guard r.rowCount == 1 else { throw ControlPlaneError.notFound("no unrevoked token \(tokenID) for tenant \(tenantID)") }
            try audit(c, actor: actor, action: "token.revoke", tenantID: tenantID, tokenID: tokenID, detail: ["reason": .string(reason)])
            try notify(c, "token:\(tokenID)")
            return Self.token(r, 0)
        }
    }

    /// The IdP lifecycle's "update token": every live token dies now and one new token is issued.
    func replaceTokens(tenantID: String, pepper: (id: String, secret: [UInt8]), actor: String) throws(ControlPlaneError) -> IssuedToken {
        guard isUUID(tenantID) else { throw .notFound("tenant \(tenantID) not found") }
        return try run { c in
            try lockTenant(c, tenantID)
            let r = try c.query("UPDATE tokens SET revoked_at = now(), revoked_reason = 'replaced' WHERE tenant_id = $1 AND revoked_at IS NULL RETURNING id",
                                [.uuid(tenantID)])
            let revoked = (0..<r.rowCount).compactMap { r.string(row: $0, column: 0) }
            let issued = try insertToken(c, tenantID: tenantID, label: "replacement", expiresAt: nil, pepper: pepper, actor: actor)
            try audit(c, actor: actor, action: "integration.update_token", tenantID: tenantID, tokenID: issued.record.id,
                      detail: ["revoked": .array(revoked.map { .string($0) })])
            for id in revoked { try notify(c, "token:\(id)") }
            return issued
        }
    }

    /// The token row and its tenant, for authentication (cache fill).
    func tokenForAuthentication(id: String) throws(ControlPlaneError) -> (TokenRecord, Tenant)? {
        try run { c in
            let r = try c.query(PreparedStatement("""
                SELECT k.id, k.tenant_id::text, k.hash, k.pepper_id, k.label, k.created_by, k.created_at, k.last_used_at,
                       k.expires_at, k.revoked_at, k.revoked_reason, k.oauth_client_id,
                       \(Self.joinedTenantColumns)
                FROM tokens k JOIN tenants t ON t.id = k.tenant_id
                WHERE k.id = $1 AND t.deleted_at IS NULL
                """), [.text(id)])
            guard r.rowCount == 1 else { return nil }
            return (Self.token(r, 0), Self.tenant(r, 0, offset: 12))
        }
    }

    /// Records last use (batched by the caller).
    func touchTokens(_ uses: [(id: String, at: PostgresTimestamp)]) throws(ControlPlaneError) {
        guard !uses.isEmpty else { return }
        _ = try run { c in
            for use in uses {
                _ = try c.execute("UPDATE tokens SET last_used_at = GREATEST(COALESCE(last_used_at, $2), $2) WHERE id = $1",
                                  [.text(use.id), .timestamp(use.at)])
            }
        }
    }

    /// Re-hashes a token under the current pepper after a successful use (pepper rotation without re-issuing).
    func rehashToken(id: String, fromPepper old: String, hash: [UInt8], pepperID: String) throws(ControlPlaneError) {
        _ = try run { c in
            try c.execute("UPDATE tokens SET hash = $3, pepper_id = $4 WHERE id = $1 AND pepper_id = $2",
                          [.text(id), .text(old), .bytes(hash), .text(pepperID)])
        }
    }

    /// Usable tokens (tenant and admin) per pepper id: a pepper can be retired when its count is zero.
    func pepperUsage() throws(ControlPlaneError) -> [String: Int] {
        try run { c in
            let r = try c.query("""
                SELECT pepper_id, count(*) FROM (
                    SELECT pepper_id FROM tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
                    UNION ALL SELECT pepper_id FROM admin_keys WHERE revoked_at IS NULL
                    UNION ALL SELECT pepper_id FROM oauth_clients WHERE revoked_at IS NULL
                    UNION ALL SELECT pepper_id FROM setup_links WHERE revoked_at IS NULL AND expires_at > now()
                    UNION ALL SELECT previous_pepper_id FROM oauth_clients
                        WHERE revoked_at IS NULL AND previous_expires_at > now()) u GROUP BY pepper_id
                """)
            var usage: [String: Int] = [:]
            for row in 0..<r.rowCount { usage[r.string(row: row, column: 0)!] = Int(r.int(row: row, column: 1) ?? 0) }
            return usage
        }
    }

    // MARK: - Admin keys

    struct AdminKey: Sendable {
        var id: String
        var hash: [UInt8]
        var pepperID: String
        var label: String
        var revoked: Bool
    }

    func adminKey(id: String) throws(ControlPlaneError) -> AdminKey? {
        try run { c in
            let r = try c.query("SELECT id, hash, pepper_id, label, revoked_at IS NOT NULL FROM admin_keys WHERE id = $1", [.text(id)])
            guard r.rowCount == 1 else { return nil }
            return AdminKey(id: r.string(row: 0, column: 0)!, hash: r.bytes(row: 0, column: 1) ?? [],
                            pepperID: r.string(row: 0, column: 2)!, label: r.string(row: 0, column: 3)!,
                            revoked: r.bool(row: 0, column: 4) ?? true)
        }
    }

    /// Registers an admin credential (bootstrap). Idempotent for the same id.
    func registerAdminKey(_ credential: TokenCredential, label: String, pepper: (id: String, secret: [UInt8])) throws(ControlPlaneError) {
        _ = try run { c in
            let r = try c.execute("INSERT INTO admin_keys (id, hash, pepper_id, label) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                                  [.text(credential.id), .bytes(credential.hash(pepper: pepper.secret)), .text(pepper.id), .text(label)])
            if r == 1 { try audit(c, actor: "bootstrap", action: "admin_key.create", tenantID: nil, tokenID: credential.id) }
        }
    }

    func rehashAdminKey(id: String, fromPepper old: String, hash: [UInt8], pepperID: String) throws(ControlPlaneError) {
        _ = try run { c in
            try c.execute("UPDATE admin_keys SET hash = $3, pepper_id = $4 WHERE id = $1 AND pepper_id = $2",
                          [.text(id), .text(old), .bytes(hash), .text(pepperID)])
        }
    }

    // MARK: - Audit

    func recordAudit(actor: String, action: String, tenantID: String? = nil, detail: JSONObject = JSONObject()) throws(ControlPlaneError) {
        _ = try run { c in try audit(c, actor: actor, action: action, tenantID: tenantID, detail: detail) }
    }

    /// The newest audit entries of a tenant, newest first (the console's audit trail).
    func latestAudit(tenantID: String, limit: Int) throws(ControlPlaneError) -> [AuditEntry] {
        guard isUUID(tenantID) else { return [] }
        return try run { c in
            let r = try c.query("""
                SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), actor, action, tenant_id::text, token_id, detail::text
                FROM audit_log WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2
                """, [.uuid(tenantID), .int(Int64(limit))])
            return (0..<r.rowCount).map { row in
                AuditEntry(id: r.int(row: row, column: 0)!, at: r.string(row: row, column: 1)!, actor: r.string(row: row, column: 2)!,
                           action: r.string(row: row, column: 3)!, tenantID: r.string(row: row, column: 4),
                           tokenID: r.string(row: row, column: 5),
                           detail: (try? JSONDecoder.decode(r.string(row: row, column: 6) ?? "{}")) ?? .object(JSONObject()))
            }
        }
    }

    func auditLog(tenantID: String?, afterID: Int64?, limit: Int) throws(ControlPlaneError) -> [AuditEntry] {
        try run { c in
            var sql = "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), actor, action, tenant_id::text, token_id, detail::text FROM audit_log WHERE true"
            var params: [PostgresValue] = []
            if let t = tenantID {
                guard isUUID(t) else { return [] }
                params.append(.uuid(t)); sql += " AND tenant_id = $\(params.count)"
            }
            if let a = afterID { params.append(.int(a)); sql += " AND id > $\(params.count)" }
            params.append(.int(Int64(limit)))
            sql += " ORDER BY id LIMIT $\(params.count)"
            let r = try c.query(sql, params)
            return (0..<r.rowCount).map { row in
                AuditEntry(id: r.int(row: row, column: 0)!, at: r.string(row: row, column: 1)!, actor: r.string(row: row, column: 2)!,
                           action: r.string(row: row, column: 3)!, tenantID: r.string(row: row, column: 4),
                           tokenID: r.string(row: row, column: 5),
                           detail: (try? JSONDecoder.decode(r.string(row: row, column: 6) ?? "{}")) ?? .object(JSONObject()))
            }
        }
    }
}

/// A canonical lowercase UUID text (what our ids look like); anything else is not an id.
func isUUID(_ s: String) -> Bool {
    let b = Array(s.utf8)
    guard b.count == 36 else { return false }
    for (i, c) in b.enumerated() {
        if i == 8 || i == 13 || i == 18 || i == 23 {
            if c != 0x2D { return false }
        } else if !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)) {
            return false
        }
    }
    return true
}
