#if canImport(Glibc)
import Glibc
#endif
import Testing
import JSON
import Postgres
import RegionLink
import Telemetry
import TestSupport
@testable import GatewayApp

/// A control plane on a fresh database, with an in-memory keyring.
final class ControlPlaneFixture: @unchecked Sendable {
    // @unchecked: `ring` is guarded by `lock`.
    let database: TestDatabase
    let pool: PostgresPool
    let store: ControlStore
    private let lock = ConditionLockBox()
    var ring: Keyring {
        get { lock.get() }
        set { lock.set(newValue) }
    }

    init(_ label: String) throws {
        database = try TestDatabase.create(label)
        pool = PostgresPool(configuration: database.appConfiguration, maxConnections: 4)
        store = ControlStore(pool: pool, maxLiveTokensPerTenant: 3)
        try store.migrate()
        var r = Keyring()
        r.add(Key(purpose: .pepper, id: "p1", secret: [UInt8](repeating: 1, count: 32), state: .current))
        r.add(Key(purpose: .link, id: "l1", secret: [UInt8](repeating: 2, count: 32), state: .current))
        ring = r
    }

    deinit {
        pool.close()
        database.drop()
    }

    var pepper: (id: String, secret: [UInt8]) {
        let p = ring.current(.pepper)!
        return (p.id, p.secret)
    }

    func authenticator() -> TokenAuthenticator {
        TokenAuthenticator(store: store, keyring: { [self] in ring }, logger: Logger(label: "t", level: .critical))
    }

    func tenant(_ name: String, region: String = "us") throws -> Tenant {
        try store.createTenant(name: name, region: region, policy: .soft, settings: JSONObject(), rateLimitPerSecond: nil,
                               rateLimitBurst: nil, actor: "test") { _ in }
    }
}

final class ConditionLockBox: @unchecked Sendable {
    // @unchecked: `value` is only touched under `mutex`.
    private var value = Keyring()
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
    func get() -> Keyring { pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }; return value }
    func set(_ v: Keyring) { pthread_mutex_lock(mutex); value = v; pthread_mutex_unlock(mutex) }
}

func authenticated(_ outcome: TokenAuthenticator.Outcome) -> String? {
    if case .authenticated(let a) = outcome { return a.tenant.id }
    return nil
}

@Suite(.serialized) struct ControlPlaneTests {
    @Test func issuedTokenAuthenticatesInBothFormsAndWrongSecretsDoNot() throws {
        let f = try ControlPlaneFixture("cp_auth")
        let acme = try f.tenant("acme")
        let issued = try f.store.issueToken(tenantID: acme.id, label: "okta", expiresAt: nil, pepper: f.pepper, actor: "test")
        let auth = f.authenticator()
        #expect(authenticated(auth.authenticate(issued.credential.token)) == acme.id)
        #expect(authenticated(auth.authenticate(issued.credential.keyPairForm)) == acme.id)
        var forged = issued.credential
        forged.secret = String(forged.secret.reversed())
        guard case .invalid(let reason, let owner) = auth.authenticate(forged.token) else { Issue.record("forged secret accepted"); return }
        #expect(reason == "mismatch")
        #expect(owner == nil, "a wrong secret must not be attributed to the token's tenant")
        guard case .invalid = auth.authenticate(TokenCredential.generate(.tenant).token) else { Issue.record("unknown id accepted"); return }
        guard case .invalid = auth.authenticate(nil) else { Issue.record("missing token accepted"); return }
    }

    @Test func tokensOfOneTenantNeverResolveToAnother() throws {
        let f = try ControlPlaneFixture("cp_isolation")
        let a = try f.tenant("tenant-a"), b = try f.tenant("tenant-b", region: "eu2")
        let ta = try f.store.issueToken(tenantID: a.id, label: nil, expiresAt: nil, pepper: f.pepper, actor: "t")
        let tb = try f.store.issueToken(tenantID: b.id, label: nil, expiresAt: nil, pepper: f.pepper, actor: "t")
        let auth = f.authenticator()
        #expect(authenticated(auth.authenticate(ta.credential.token)) == a.id)
        #expect(authenticated(auth.authenticate(tb.credential.token)) == b.id)
        // A's id with B's secret: refused.
        let mixed = TokenCredential(kind: .tenant, id: ta.credential.id, secret: tb.credential.secret)
        #expect(authenticated(auth.authenticate(mixed.token)) == nil)
    }

    @Test func lifecycleDeactivateUpdateTokenReactivate() throws {
        let f = try ControlPlaneFixture("cp_lifecycle")
        let t = try f.tenant("jumpcloud-seed")
        let first = try f.store.issueToken(tenantID: t.id, label: nil, expiresAt: nil, pepper: f.pepper, actor: "t")
        let second = try f.store.issueToken(tenantID: t.id, label: nil, expiresAt: nil, pepper: f.pepper, actor: "t")
        let auth = f.authenticator()
        #expect(authenticated(auth.authenticate(first.credential.token)) == t.id)

        _ = try f.store.setIntegrationState(id: t.id, .deactivated, actor: "t")
        auth.invalidate("tenant:\(t.id)")
        guard case .deactivated = auth.authenticate(first.credential.token) else { Issue.record("not deactivated"); return }

        let replacement = try f.store.replaceTokens(tenantID: t.id, pepper: f.pepper, actor: "t")
        auth.invalidate("all")
        guard case .invalid(let r1, let o1) = auth.authenticate(first.credential.token) else { Issue.record("old token alive"); return }
        guard case .invalid(let r2, _) = auth.authenticate(second.credential.token) else { Issue.record("old token alive"); return }
        #expect(r1 == "revoked" && r2 == "revoked")
        #expect(o1?.id == t.id, "a revoked token presented with its right secret is the tenant's to see")
        guard case .deactivated = auth.authenticate(replacement.credential.token) else { Issue.record("new token works while deactivated"); return }

        _ = try f.store.setIntegrationState(id: t.id, .active, actor: "t")
        auth.invalidate("tenant:\(t.id)")
        #expect(authenticated(auth.authenticate(replacement.credential.token)) == t.id)
        #expect(authenticated(auth.authenticate(first.credential.token)) == nil)

        let actions = try f.store.auditLog(tenantID: t.id, afterID: nil, limit: 50).map(\.action)
        #expect(actions == ["tenant.create", "token.issue", "token.issue", "integration.deactivate",
                            "integration.update_token", "integration.reactivate"])
    }

    @Test func rotationGraceEndsByItselfAndRevokeIsImmediate() throws {
        let f = try ControlPlaneFixture("cp_rotation")
        let t = try f.tenant("rotating")
        let old = try f.store.issueToken(tenantID: t.id, label: "okta", expiresAt: nil, pepper: f.pepper, actor: "t")
        let new = try f.store.rotateToken(tenantID: t.id, tokenID: old.record.id, graceSeconds: 3, pepper: f.pepper, actor: "t")
        let auth = f.authenticator()
        // (Windows of 3 s: the checks before the wait must fall inside them on a loaded machine too.)
        #expect(authenticated(auth.authenticate(old.credential.token)) == t.id)
        #expect(authenticated(auth.authenticate(new.credential.token)) == t.id)
        #expect(new.record.label == "okta")
        sleepMillis(3300)
        // No notification needed: the expiry is checked on every use.
        guard case .invalid(let reason, _) = auth.authenticate(old.credential.token) else { Issue.record("grace did not end"); return }
        #expect(reason == "expired")
        #expect(authenticated(auth.authenticate(new.credential.token)) == t.id)

        _ = try f.store.revokeToken(tenantID: t.id, tokenID: new.record.id, reason: "leaked", actor: "t")
        auth.invalidate("token:\(new.record.id)")
        guard case .invalid("revoked", _) = auth.authenticate(new.credential.token) else { Issue.record("revoke not immediate"); return }
    }

    @Test func liveTokenCapAndExpiry() throws {
        let f = try ControlPlaneFixture("cp_cap")
        let t = try f.tenant("capped")
        for _ in 0..<3 { _ = try f.store.issueToken(tenantID: t.id, label: nil, expiresAt: nil, pepper: f.pepper, actor: "t") }
        #expect(throws: ControlPlaneError.conflict("tenant already has 3 live tokens; revoke one first")) {
            _ = try f.store.issueToken(tenantID: t.id, label: nil, expiresAt: nil, pepper: f.pepper, actor: "t")
        }
        let f2 = try ControlPlaneFixture("cp_expiry")
        let t2 = try f2.tenant("expiring")
        let soon = PostgresTimestamp(microsecondsSinceEpoch: (Timestamp.nowEpochMillis() + 3000) * 1000)
        let short = try f2.store.issueToken(tenantID: t2.id, label: nil, expiresAt: soon, pepper: f2.pepper, actor: "t")
        let auth = f2.authenticator()
        #expect(authenticated(auth.authenticate(short.credential.token)) == t2.id)
        sleepMillis(3200)
        guard case .invalid("expired", _) = auth.authenticate(short.credential.token) else { Issue.record("expiry ignored"); return }
    }

    @Test func pepperRotationKeepsTokensAndRehashesOnUse() throws {
        let f = try ControlPlaneFixture("cp_pepper")
        let t = try f.tenant("peppered")
        let issued = try f.store.issueToken(tenantID: t.id, label: nil, expiresAt: nil, pepper: f.pepper, actor: "t")
        var r = f.ring
        r.setState(.pepper, id: "p1", .previous)
        r.add(Key(purpose: .pepper, id: "p2", secret: [UInt8](repeating: 9, count: 32), state: .current))
        f.ring = r
        #expect(try f.store.pepperUsage() == ["p1": 1])
        let auth = f.authenticator()
        #expect(authenticated(auth.authenticate(issued.credential.token)) == t.id)
        #expect(try f.store.pepperUsage() == ["p2": 1])
        // Retire p1: the token keeps working under p2.
        var retired = f.ring
        retired.remove(.pepper, id: "p1")
        f.ring = retired
        auth.flush()
        #expect(authenticated(auth.authenticate(issued.credential.token)) == t.id)
    }

    @Test func noSecretIsStoredInTheControlPlane() throws {
        let f = try ControlPlaneFixture("cp_secrets")
        let t = try f.tenant("secretive")
        var secrets: [String] = []
        for _ in 0..<3 {
            let i = try f.store.issueToken(tenantID: t.id, label: nil, expiresAt: nil, pepper: f.pepper, actor: "t")
            secrets.append(i.credential.secret)
        }
        let rotated = try f.store.rotateToken(tenantID: t.id, tokenID: try f.store.tokens(tenantID: t.id)[0].id,
                                              graceSeconds: 60, pepper: f.pepper, actor: "t")
        secrets.append(rotated.credential.secret)
        let dump = try f.pool.withConnection { c -> String in
            var text = ""
            for table in ["tenants", "tokens", "admin_keys", "audit_log"] {
                let r = try c.query("SELECT t::text FROM \(table) t")
                for row in 0..<r.rowCount { text += (r.string(row: row, column: 0) ?? "") + "\n" }
            }
            return text
        }
        #expect(dump.contains(t.id))
        for s in secrets { #expect(!dump.contains(s)) }
    }

    @Test func revocationReachesAnotherReplicaWithinOneSecond() throws {
        let f = try ControlPlaneFixture("cp_replicas")
        let t = try f.tenant("replicated")
        let issued = try f.store.issueToken(tenantID: t.id, label: nil, expiresAt: nil, pepper: f.pepper, actor: "t")
        let replicaA = f.authenticator(), replicaB = f.authenticator()
        let listenerB = ControlPlaneListener(configuration: f.database.appConfiguration, authenticator: replicaB,
                                             logger: Logger(label: "t", level: .critical))
        try listenerB.start()
        defer { listenerB.shutdown(gracePeriod: .seconds(1)) }
        #expect(authenticated(replicaA.authenticate(issued.credential.token)) == t.id)
        #expect(authenticated(replicaB.authenticate(issued.credential.token)) == t.id)  // now cached in B
        _ = try f.store.revokeToken(tenantID: t.id, tokenID: issued.record.id, reason: "test", actor: "t")
        let revokedAt = monotonicMillis()
        var refusedAfter: Int? = nil
        while monotonicMillis() - revokedAt < 3000 {
            if authenticated(replicaB.authenticate(issued.credential.token)) == nil {
                refusedAfter = monotonicMillis() - revokedAt
                break
            }
            sleepMillis(5)
        }
        #expect(refusedAfter != nil)
        #expect((refusedAfter ?? 9999) < 1000)
    }
}
