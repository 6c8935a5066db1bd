import JSON
import Postgres
import Crypto

/// Setup links: created and revoked by the operator, opened by a customer's IT admin (docs/web.md).
extension ControlStore {
    /// Live links a tenant may hold at once.
    static let maxLiveSetupLinksPerTenant = 10

    static let setupLinkColumns = "id, tenant_id::text, hash, pepper_id, label, created_by, created_at, expires_at, last_used_at, uses, revoked_at"

    static func setupLink(_ r: PostgresResult, _ row: Int, offset c: Int = 0) -> SetupLink {
        SetupLink(id: r.string(row: row, column: c)!, tenantID: r.string(row: row, column: c + 1)!,
                  hash: r.bytes(row: row, column: c + 2) ?? [], pepperID: r.string(row: row, column: c + 3)!,
                  label: r.string(row: row, column: c + 4), createdBy: r.string(row: row, column: c + 5)!,
                  createdAt: r.timestamp(row: row, column: c + 6)!, expiresAt: r.timestamp(row: row, column: c + 7)!,
                  lastUsedAt: r.timestamp(row: row, column: c + 8), uses: Int(r.int(row: row, column: c + 9) ?? 0),
                  revokedAt: r.timestamp(row: row, column: c + 10))
    }

    struct CreatedSetupLink: Sendable {
        var link: SetupLink
        var credential: TokenCredential
    }

    func createSetupLink(tenantID: String, label: String?, lifetimeSeconds: Int, pepper: (id: String, secret: [UInt8]),
                         actor: String) throws(ControlPlaneError) -> CreatedSetupLink {
        guard isUUID(tenantID) else { throw .notFound("tenant \(tenantID) not found") }
        guard (60...SetupLink.maximumLifetimeSeconds).contains(lifetimeSeconds) else {
            throw .invalid("a setup link lives 60 s to \(SetupLink.maximumLifetimeSeconds / 86_400) days")
        }
        return try run { c in
            try lockTenant(c, tenantID)
            let live = try c.query("SELECT count(*) FROM setup_links WHERE tenant_id = $1 AND revoked_at IS NULL AND expires_at > now()",
                                   [.uuid(tenantID)])
            guard Int(live.int(row: 0, column: 0) ?? 0) < Self.maxLiveSetupLinksPerTenant else {
                throw ControlPlaneError.conflict("tenant already has \(Self.maxLiveSetupLinksPerTenant) live setup links; revoke one first")
            }
            let credential = TokenCredential.generate(.setup)
            let r = try c.query("""
                INSERT INTO setup_links (id, tenant_id, hash, pepper_id, label, created_by, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) RETURNING \(Self.setupLinkColumns)
                """, [.text(credential.id), .uuid(tenantID), .bytes(credential.hash(pepper: pepper.secret)), .text(pepper.id),
                      PostgresValue(label), .text(actor), .int(Int64(lifetimeSeconds))])
            try audit(c, actor: actor, action: "setup_link.create", tenantID: tenantID, tokenID: credential.id,
                      detail: ["lifetimeSeconds": .number(JSONNumber(lifetimeSeconds))])
            return CreatedSetupLink(link: Self.setupLink(r, 0), credential: credential)
        }
    }

    func setupLinks(tenantID: String) throws(ControlPlaneError) -> [SetupLink] {
        guard isUUID(tenantID) else { return [] }
        return try run { c in
            let r = try c.query("SELECT \(Self.setupLinkColumns) FROM setup_links WHERE tenant_id = $1 ORDER BY created_at, id",
                                [.uuid(tenantID)])
            return (0..<r.rowCount).map { Self.setupLink(r, $0) }
        }
    }

    func revokeSetupLink(tenantID: String, linkID: String, actor: String) throws(ControlPlaneError) -> SetupLink {
        guard isUUID(tenantID) else { throw .notFound("tenant \(tenantID) not found") }
        return try run { c in
            let r = try c.query("""
                UPDATE setup_links SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL
                RETURNING \(Self.setupLinkColumns)
                """, [.uuid(tenantID), .text(linkID)])
            guard r.rowCount == 1 else { throw ControlPlaneError.notFound("no unrevoked setup link \(linkID) for tenant \(tenantID)") }
            try audit(c, actor: actor, action: "setup_link.revoke", tenantID: tenantID, tokenID: linkID)
            return Self.setupLink(r, 0)
        }
    }

    /// The link and its tenant (never cached: every page view re-checks revocation and expiry).
    func setupLinkForUse(id: String) throws(ControlPlaneError) -> (SetupLink, Tenant)? {
        try run { c in
            let r = try c.query(PreparedStatement("""
                SELECT s.id, s.tenant_id::text, s.hash, s.pepper_id, s.label, s.created_by, s.created_at, s.expires_at,
                       s.last_used_at, s.uses, s.revoked_at,
                       \(Self.joinedTenantColumns)
                FROM setup_links s JOIN tenants t ON t.id = s.tenant_id
                WHERE s.id = $1 AND t.deleted_at IS NULL
                """), [.text(id)])
            guard r.rowCount == 1 else { return nil }
            return (Self.setupLink(r, 0), Self.tenant(r, 0, offset: 11))
        }
    }

    /// Records that the link was opened (a new session started from it).
    func recordSetupLinkOpened(_ link: SetupLink, source: String) throws(ControlPlaneError) {
        _ = try run { c in
            _ = try c.execute("UPDATE setup_links SET last_used_at = now(), uses = uses + 1 WHERE id = $1", [.text(link.id)])
            try audit(c, actor: "setup:" + link.id, action: "setup_link.open", tenantID: link.tenantID, tokenID: link.id,
                      detail: ["source": .string(source)])
        }
    }

    /// An audit row for something done through a setup link or the console (the actor says which).
    func auditWebAction(actor: String, action: String, tenantID: String?, tokenID: String? = nil,
                        detail: JSONObject = JSONObject()) throws(ControlPlaneError) {
        _ = try run { c in try audit(c, actor: actor, action: action, tenantID: tenantID, tokenID: tokenID, detail: detail) }
    }
}
