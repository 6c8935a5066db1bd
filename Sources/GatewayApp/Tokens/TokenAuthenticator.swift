import Crypto
import Postgres
import RegionLink
import Synchronization
import Telemetry
import Locking

/// Resolves bearer tokens to tenants: format and checksum first (no lookup for junk), then the token row (cached),
/// then a constant-time comparison of HMAC(pepper, secret) with the stored hash, then the token's and the
/// integration's state. Cached rows are dropped by NOTIFY from any replica (`ControlPlaneSchema.channel`), so a
/// revocation is effective everywhere as soon as it commits; a bounded TTL covers missed notifications.
final class TokenAuthenticator: Sendable {
    enum Outcome: Sendable {
        case authenticated(AuthenticatedTenant)
        /// Not a valid credential (the reason is for logs and metrics only, never for the client). `tenant` is set
        /// only when the secret matched a token that is revoked or expired: then the refusal is that tenant's to see
        /// (its request log, the setup page's live check). A wrong secret is never attributed: anyone who knows a
        /// token's public id could otherwise write into another tenant's log.
        case invalid(reason: String, tenant: Tenant? = nil)
        /// Valid token, but the tenant's integration is deactivated: refuse, write nothing.
        case deactivated(Tenant)
        /// The control plane could not be reached and the token is not cached.
        case unavailable
    }

    private struct Entry: Sendable {
        var record: TokenRecord?
        var tenant: Tenant?
        /// Trusted without a read until then (monotonic): the TTL after a read, or `staleRetryNanos` after a failed one.
        var freshUntilNanos: UInt64
        func isFresh(_ now: UInt64) -> Bool { now < freshUntilNanos }
    }

    private let store: ControlStore
    private let keyring: @Sendable () -> Keyring
    private let logger: Logger
    private let cache = Lock<[String: Entry]>([:])
    private let pendingUses = Lock<[String: PostgresTimestamp]>([:])
    /// Upper bound on how long a cached row is trusted without a notification.
    let positiveTTLNanos: UInt64
    let negativeTTLNanos: UInt64
    /// How long a stale row is served after a failed read before the next read is tried (1 s, or half the TTL).
    var staleRetryNanos: UInt64 { min(1_000_000_000, positiveTTLNanos / 2) }
    let maxEntries = 100_000

    init(store: ControlStore, keyring: @escaping @Sendable () -> Keyring, logger: Logger,
         positiveTTL: Duration = .seconds(60), negativeTTL: Duration = .seconds(10)) {
        self.store = store
        self.keyring = keyring
        self.logger = logger
        self.positiveTTLNanos = UInt64(positiveTTL.components.seconds) * 1_000_000_000
        self.negativeTTLNanos = UInt64(negativeTTL.components.seconds) * 1_000_000_000
    }

    func authenticate(_ presented: String?, nowNanos: UInt64 = Timestamp.monotonicNanos(),
                      nowMicros: Int64 = Timestamp.nowEpochMillis() * 1000) -> Outcome {
        guard let presented else { return .invalid(reason: "missing") }
        let credential: TokenCredential
        switch TokenCredential.parse(presented, kind: .scim(presented)) {
        case .success(let c): credential = c
        case .failure(let f): return .invalid(reason: "\(f)")
        }
        guard let entry = lookup(credential.id, nowNanos: nowNanos) else { return .unavailable }
        guard var record = entry.record, let tenant = entry.tenant else { return .invalid(reason: "unknown") }
        let ring = keyring()
        guard let pepper = ring.key(.pepper, id: record.pepperID) else { return .invalid(reason: "pepper retired") }
        guard constantTimeEquals(credential.hash(pepper: pepper.mac), record.hash) else {
            return .invalid(reason: "mismatch")
        }
        switch record.status(nowMicros: nowMicros) {
        case .revoked: return .invalid(reason: "revoked", tenant: tenant)
        case .expired: return .invalid(reason: record.oauthClientID == nil ? "expired" : "access-token-expired", tenant: tenant)
        case .live, .expiring: break
        }
        if tenant.integrationState == .deactivated { return .deactivated(tenant) }
        pendingUses.withLock { $0[record.id] = PostgresTimestamp(microsecondsSinceEpoch: nowMicros) }
        if let current = ring.current(.pepper), current.id != record.pepperID {
            // Pepper rotation: re-hash under the current pepper now that we hold the secret.
            let newHash = credential.hash(pepper: current.mac)
            do {
                try store.rehashToken(id: record.id, fromPepper: record.pepperID, hash: newHash, pepperID: current.id)
                record.hash = newHash
                record.pepperID = current.id
                let updated = record
                cache.withLock { $0[updated.id]?.record = updated }
            } catch {
                logger.warning("token re-hash deferred", [("token.id", .string(record.id)), ("error", .string(error.description))])
            }
        }
        return .authenticated(AuthenticatedTenant(tenant: tenant, tokenID: record.id))
    }

    /// Whether this exact credential (id and secret) matches a cached token, without a database lookup: lets a known
    /// good token through a source throttle. The secret is checked too, or knowing a token's public id (it is in
    /// logs and admin listings) would exempt guesses at its secret from the throttle.
    func isKnownGood(_ presented: String?) -> Bool {
        guard let presented, case .success(let c) = TokenCredential.parse(presented, kind: .scim(presented)),
              let record = cache.withLock({ $0[c.id]?.record }),
              let pepper = keyring().key(.pepper, id: record.pepperID) else { return false }
        return constantTimeEquals(c.hash(pepper: pepper.secret), record.hash)
    }

    /// Whether authenticating `presented` would read the control plane (no cached row, or a stale one). The
    /// proxy then does that read on a queue of its own (`prefetch`), never on a thread that serves connections.
    func needsLookup(_ presented: String?, nowNanos: UInt64 = Timestamp.monotonicNanos()) -> Bool {
        guard let presented, case .success(let c) = TokenCredential.parse(presented, kind: .scim(presented)) else { return false }
        guard let entry = cache.withLock({ $0[c.id] }) else { return true }
        return !entry.isFresh(nowNanos)
    }

    /// Reads the token's row into the cache (blocking: call it off the request threads). False when the control
    /// plane did not answer and nothing usable is cached: authenticating now would read it again (and wait again).
    @discardableResult
    func prefetch(_ presented: String?) -> Bool {
        guard let presented, case .success(let c) = TokenCredential.parse(presented, kind: .scim(presented)) else { return true }
        return lookup(c.id, nowNanos: Timestamp.monotonicNanos()) != nil
    }

    private func lookup(_ id: String, nowNanos: UInt64) -> Entry? {
        let cached = cache.withLock({ $0[id] })
        if let entry = cached, entry.isFresh(nowNanos) { return entry }
        let loaded: Entry
        do {
            if let (record, tenant) = try store.tokenForAuthentication(id: id) {
                loaded = Entry(record: record, tenant: tenant, freshUntilNanos: nowNanos + positiveTTLNanos)
            } else {
                loaded = Entry(record: nil, tenant: nil, freshUntilNanos: nowNanos + negativeTTLNanos)
            }
        } catch {
            logger.error("token lookup failed", [("error", .string(error.description))])
            let now = Timestamp.monotonicNanos()
            return cache.withLock { c -> Entry? in
                // Another request may have loaded the row meanwhile: its answer is the right one.
                if let current = c[id], current.isFresh(now) { return current }
                // Stale if error: while the control plane is unreachable nothing can be revoked either (revocations
                // are writes there), so a row that was valid stays the best answer; new tokens wait for it. The row
                // counts as fresh for `staleRetryNanos` more, so that the next read is tried only after that (each
                // request, and the authentication right after a prefetch, would otherwise wait on the failing read).
                guard let stale = cached, stale.record != nil else { return nil }
                let kept = Entry(record: stale.record, tenant: stale.tenant, freshUntilNanos: now + staleRetryNanos)
                c[id] = kept
                return kept
            }
        }
        cache.withLock { c in
            if c.count >= maxEntries { c.removeAll(keepingCapacity: true) }
            c[id] = loaded
        }
        return loaded
    }

    /// Applies a control-plane notification (`token:<id>`, `tenant:<id>`, anything else flushes).
    func invalidate(_ payload: String) {
        if payload.hasPrefix("token:") {
            let id = String(payload.dropFirst(6))
            cache.withLock { $0[id] = nil }
        } else if payload.hasPrefix("tenant:") {
            let tenantID = String(payload.dropFirst(7))
            cache.withLock { c in
                for (key, entry) in c where entry.tenant?.id == tenantID { c[key] = nil }
            }
        } else {
            flush()
        }
    }

    func flush() { cache.withLock { $0.removeAll() } }

    var cachedCount: Int { cache.withLock { $0.count } }

    /// Writes batched last-use times (called periodically and at shutdown).
    func flushLastUsed() {
        let uses = pendingUses.withLock { p -> [(id: String, at: PostgresTimestamp)] in
            let list = p.map { (id: $0.key, at: $0.value) }
            p.removeAll()
            return list
        }
        guard !uses.isEmpty else { return }
        do {
            try store.touchTokens(uses)
        } catch {
            logger.warning("last-used update failed", [("error", .string(error.description))])
        }
    }
}
