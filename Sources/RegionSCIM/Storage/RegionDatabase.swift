import JSON
package import Postgres
package import SCIMCore
import Synchronization
package import Telemetry
import Locking
import Lifecycle

/// The region's PostgreSQL access: tenant-scoped reads and writes, the tenant directory and the tenant API's SQL.
///
/// Row-level security needs `app.tenant_id` set for every statement. Writes run in a transaction whose first
/// statements set it (transaction-local) and read the tenant row and the move fence, sent with BEGIN — and, when the
/// tenant's settings are cached, with the body's first statement too (`PostgresConnection.sendAhead`). Reads — most
/// of the traffic — send just their own statements: the tenant is set at session level, and only when the pooled
/// connection last served another tenant (`PostgresConnection.sessionTag`), and the tenant's settings come from a
/// cache that tenant-API changes invalidate through NOTIFY (every replica of the region listens) and that expires
/// after `contextTTL` anyway. A GET by id is then one statement in one round trip.
package final class RegionDatabase: Sendable {
    /// The connection pool (app role; row-level security applies).
    package let pool: PostgresPool
    /// The region id (for error details).
    package let region: String
    /// Auto-provision unknown tenants (development mode only).
    let autoProvision: Bool
    let logger: Logger
    private let contexts = Lock<[String: (context: TenantContext, loadedAt: UInt64)]>([:])
    /// How long a cached tenant context is trusted without a notification.
    let contextTTLNanos: UInt64 = 30_000_000_000
    /// Tenant-API changes are announced here (payload: the tenant id).
    package static let tenantChannel = "scim_region_tenants"
    /// Which list-query shapes run as prepared statements.
    let shapes = StatementShapes()
    private let cursorSecretStore = Lock<[UInt8]?>(nil)
    /// The tenants' role rules and attribute mappings (issue 18), cached per settings version.
    package let directory = DirectoryConfigs()

    /// A database front for one region; `autoProvision` only in development mode.
    package init(pool: PostgresPool, region: String, autoProvision: Bool, logger: Logger) {
        self.pool = pool
        self.region = region
        self.autoProvision = autoProvision
        self.logger = logger
    }

    package static let setTenant = PreparedStatement("SELECT set_config('app.tenant_id', $1, true)")
    /// Background workers (event purge, webhook delivery) read across tenants through their own policies.
    package static let setWorker = PreparedStatement("SELECT set_config('app.region_worker', 'on', true)")
    static let setTenantForSession = PreparedStatement("SELECT set_config('app.tenant_id', $1, false)")
    static let tenantRow = PreparedStatement(
        """
        SELECT settings_version, name, deprovision_policy, schema_extensions::text, validators::text, unique_external_id,
               request_log::text
        FROM tenants WHERE id = $1::uuid
        """)
    /// The server-side checks of a speculative write prelude (migration 11), and the SQLSTATE of their failure.
    static let writeGuard = PreparedStatement("SELECT scim_write_guard($1::uuid, $2)")
    static let writeGuardRejection: Set<String> = ["SCW01"]
    /// `tenantRow` for a write: the lock a move's freeze waits for (`TenantFence`).
    static let tenantRowForWrite = PreparedStatement(
        """
        SELECT settings_version, name, deprovision_policy, schema_extensions::text, validators::text, unique_external_id,
               request_log::text
        FROM tenants WHERE id = $1::uuid FOR KEY SHARE
        """)

    // MARK: Tenant-scoped transactions

    /// Runs `statements` (built against the tenant's context) in one read-only snapshot and one round trip, and
    /// decodes their results.
    package func read<R>(tenant: String, _ statements: (TenantContext) throws -> [PostgresStatement],
                 decode: (TenantContext, [PostgresResult]) throws -> R) throws -> R {
        let context = try cachedContext(tenant) ?? loadContext(tenant)
        let built = try statements(context)
        // Several statements must share one snapshot; a single one runs in its own implicit transaction.
        let snapshot = built.count > 1
        let results = try pool.withConnection { connection -> [PostgresResult] in
            let switching = connection.sessionTag != tenant
            var pipeline: [PostgresStatement] = []
            // BEGIN first: the isolation level must be set before any query of the transaction.
            if snapshot { pipeline.append(.sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) }
            if switching { pipeline.append(.prepared(Self.setTenantForSession, [.text(tenant)])) }
            pipeline += built
            if snapshot { pipeline.append(.sql("COMMIT")) }
            do {
                let results = try connection.pipeline(pipeline)
                connection.sessionTag = tenant
                return Array(results.dropFirst((switching ? 1 : 0) + (snapshot ? 1 : 0)).prefix(built.count))
            } catch {
                // The failed transaction rolled the session setting back with it.
                connection.sessionTag = nil
                throw error
            }
        }
        return try decode(context, results)
    }

    /// Runs `body` in a read-write transaction scoped to the tenant (READ COMMITTED: uniqueness and row locks do the
    /// concurrency work). Deadlocks and serialization failures are retried a few times before giving up with 503.
    /// The first statement also takes the tenant's directory lock shared (`DirectoryLock`).
    package func write<R>(tenant: String, _ body: (PostgresConnection, TenantContext) throws -> R) throws -> R {
        var attempt = 0
        var speculationRejected = false
        while true {
            attempt += 1
            do {
                return try pool.withConnection { connection in
                    let begin: [PostgresStatement] = [.sql("BEGIN"), .prepared(DirectoryLock.beginWrite, [.text(tenant)])]
                    let context: TenantContext
                    if let cached = cachedContext(tenant), !speculationRejected {
                        // The usual case: the tenant's settings are cached, so the prelude goes out with the body's
                        // first statement (one round trip less per write), and its checks are made by the server
                        // (`scim_write_guard`, migration 11: settings version, move fence), so the body's last
                        // statements may carry the COMMIT too (`pipelineCommitting`). If the guard fails (settings
                        // changed, a move's fence, the tenant gone), nothing of this transaction can commit and the
                        // write starts over below, awaiting the full prelude for the exact answer.
                        try connection.sendAhead(begin + [.prepared(Self.writeGuard, [.text(tenant), .int(cached.version)])],
                                                 rejectedBy: Self.writeGuardRejection)
                        context = cached
                    } else {
                        let results = try connection.pipeline(begin + [.prepared(Self.tenantRowForWrite, [.text(tenant)]),
                                                                       .prepared(TenantFence.state, [.text(tenant)])])
                        let row = results[2]
                        // The open transaction is rolled back when the connection goes back to the pool.
                        guard row.rowCount == 1 else { throw TenantMissing() }
                        try TenantFence.check(results[3])
                        if let cached = cachedContext(tenant), row.int(row: 0, column: 0) == cached.version {
                            context = cached
                        } else {
                            context = try makeContext(tenant, row: row)
                        }
                    }
                    let value: R
                    do {
                        value = try body(connection, context)
                    } catch let error as PostgresError where error.kind == .preludeRejected {
                        throw error
                    } catch {
                        // An error the body decided before sending anything (a 400 from the cached schema, a 405 from
                        // the cached deprovision policy) rests on the cache too: the prelude must confirm it first.
                        try connection.flushAhead()
                        throw error
                    }
                    // A failed statement whose error was swallowed turns COMMIT into ROLLBACK: say so. A commit the
                    // synchronous standby did not confirm throws (503): it is never answered as done.
                    guard try connection.commit() else { throw SCIMError(status: 500, detail: "the transaction was rolled back") }
                    return value
                }
            } catch let error as PostgresError where error.kind == .preludeRejected {
                // Start over awaiting the prelude: it gives the exact answer (new settings, 503, 404).
                speculationRejected = true
                attempt -= 1
            } catch is TenantMissing {
                // Outside the connection: provisioning (development mode) needs a connection of its own.
                _ = try reload(tenant)
                if attempt >= 3 { throw SCIMError.tenantNotProvisioned(region: region) }
            } catch let error as PostgresError where (error.kind == .deadlock || error.kind == .serializationFailure) && attempt < 4 {
                logger.debug("retrying transaction", [("sqlstate", .string(error.sqlState ?? ""))])
            }
        }
    }

    private struct TenantMissing: Error {}

    // MARK: Tenant contexts

    private func cachedContext(_ tenant: String) -> TenantContext? {
        let now = Timestamp.monotonicNanos()
        return contexts.withLock { c in
            guard let entry = c[tenant], now &- entry.loadedAt < contextTTLNanos else { return nil }
            return entry.context
        }
    }

    /// The tenant's settings when its context is cached, without touching the database (nil otherwise): what the
    /// request path may consult at no cost, e.g. whether the tenant's request log is off.
    package func cachedSettings(tenant: String) -> TenantSettings? { cachedContext(tenant)?.settings }

    /// Drops a tenant's cached context (a NOTIFY from the tenant API, here or on another replica).
    package func invalidate(tenant: String) {
        contexts.withLock { _ = $0.removeValue(forKey: tenant) }
    }

    /// Drops every cached context (after the listener reconnected: notifications may have been missed).
    package func invalidateAll() {
        contexts.withLock { $0.removeAll() }
    }

    /// Forgets the cached context and reads the tenant again (a 404 when it is gone, unless auto-provisioning).
    private func reload(_ tenant: String) throws -> TenantContext {
        contexts.withLock { _ = $0.removeValue(forKey: tenant) }
        return try loadContext(tenant)
    }

    /// The tenant's context, cached or read (for renderings outside a SCIM request: snapshot pages).
    package func context(_ tenant: String) throws -> TenantContext {
        try cachedContext(tenant) ?? loadContext(tenant)
    }

    private func makeContext(_ tenant: String, row: PostgresResult) throws -> TenantContext {
        guard let version = row.int(row: 0, column: 0), let name = row.string(row: 0, column: 1),
              let policy = row.string(row: 0, column: 2).flatMap(DeprovisionPolicy.init(rawValue:)),
              let extensions = row.string(row: 0, column: 3), let validators = row.string(row: 0, column: 4),
              case .array(let ext)? = try? JSONDecoder.decode(extensions),
              case .array(let val)? = try? JSONDecoder.decode(validators),
              let requestLog = try? RequestLogSettings.parse(row.string(row: 0, column: 6).flatMap { try? JSONDecoder.decode($0) })
        else {
            throw SCIMError(status: 500, detail: "the tenant's stored settings are unreadable")
        }
        let settings = TenantSettings(name: name, deprovisionPolicy: policy, schemaExtensions: ext, validators: val,
                                      uniqueExternalId: row.bool(row: 0, column: 5) ?? false, requestLog: requestLog)
        let context = try TenantContext(id: tenant, version: version, settings: settings)
        let now = Timestamp.monotonicNanos()
        contexts.withLock { $0[tenant] = (context, now) }
        return context
    }

    /// Reads the tenant row (provisioning it first in development mode).
    private func loadContext(_ tenant: String) throws -> TenantContext {
        let row = try pool.withConnection { connection in
            try connection.pipeline([.prepared(Self.setTenant, [.text(tenant)]), .prepared(Self.tenantRow, [.text(tenant)])])[1]
        }
        if row.rowCount == 1 { return try makeContext(tenant, row: row) }
        guard autoProvision else { throw SCIMError.tenantNotProvisioned(region: region) }
        logger.warning("auto-provisioning tenant (development mode)", [("tenant.id", .string(tenant))])
        _ = try putTenant(id: tenant, settings: .development(id: tenant), replace: false)
        return try loadContext(tenant)
    }

    // MARK: Tenant API

    /// Creates or updates a tenant; true when it was created. With `replace: false` an existing tenant is kept as is.
    @discardableResult
    package func putTenant(id: String, settings: TenantSettings, replace: Bool = true) throws -> Bool {
        let extensions = String(decoding: JSONEncoder.encode(.array(settings.schemaExtensions)), as: UTF8.self)
        let validators = String(decoding: JSONEncoder.encode(.array(settings.validators)), as: UTF8.self)
        let conflict = replace
            ? """
              DO UPDATE SET name = EXCLUDED.name, deprovision_policy = EXCLUDED.deprovision_policy,
                  schema_extensions = EXCLUDED.schema_extensions, validators = EXCLUDED.validators,
                  unique_external_id = EXCLUDED.unique_external_id, request_log = EXCLUDED.request_log,
                  settings_version = tenants.settings_version + 1, updated_at = now()
              """
            : "DO NOTHING"
        defer { invalidate(tenant: id) }
        return try fencedTransaction(tenant: id) { connection in
            if settings.uniqueExternalId {
                // Turning uniqueness on over existing duplicates would make them uneditable: refuse, and say how many.
                let duplicates = try connection.query(
                    """
                    SELECT count(*) FROM (SELECT external_id FROM users
                                          WHERE tenant_id = $1::uuid AND deleted_at IS NULL AND external_id IS NOT NULL
                                          GROUP BY external_id HAVING count(*) > 1) d
                    """, [.text(id)]).int(row: 0, column: 0) ?? 0
                if duplicates > 0 {
                    throw SCIMError.uniqueness("'uniqueExternalId' cannot be turned on: \(duplicates) externalId values are held by more than one user")
                }
            }
            let result = try connection.query(
                """
                INSERT INTO tenants (id, name, deprovision_policy, schema_extensions, validators, unique_external_id,
                                     request_log)
                VALUES ($1::uuid, $2, $3, $4::jsonb, $5::jsonb, $6::boolean, $7::jsonb)
                ON CONFLICT (id) \(conflict)
                RETURNING (xmax = 0)
                """,
                [.text(id), .text(settings.name), .text(settings.deprovisionPolicy.rawValue), .jsonb(extensions), .jsonb(validators),
                 .bool(settings.uniqueExternalId), .jsonb(settings.requestLog.json.description)])
            _ = try connection.query("SELECT pg_notify($1, $2)", [.text(Self.tenantChannel), .text(id)])
            return result.rowCount == 1 && result.bool(row: 0, column: 0) == true
        }
    }

    /// The tenant's settings, or nil when it is not provisioned here (never auto-provisions).
    package func tenantSettings(id: String) throws -> TenantSettings? {
        let row = try pool.withConnection { connection in
            try connection.pipeline([.prepared(Self.setTenant, [.text(id)]), .prepared(Self.tenantRow, [.text(id)])])[1]
        }
        return row.rowCount == 1 ? try makeContext(id, row: row).settings : nil
    }

    /// Deletes the tenant and (by cascade) every user, group and membership it has here; false when unknown.
    package func deleteTenant(id: String) throws -> Bool {
        let deleted = try pool.withTransaction(setup: [.prepared(Self.setTenant, [.text(id)])]) { connection in
            // A tenant a move holds is deleted by that move (or after its abort), never under it.
            if try connection.query(TenantFence.state, [.text(id)]).rowCount > 0 {
                throw SCIMError(status: 409, detail: "the tenant is being moved between regions; abort the move first")
            }
            // A large tenant takes longer than the default statement timeout to cascade.
            try connection.execute("SET LOCAL statement_timeout = 0")
            let deleted = try connection.execute("DELETE FROM tenants WHERE id = $1::uuid", [.text(id)])
            // The request log has no foreign key (its writer checks the tenant once per batch instead of once per
            // row): its records go here. Deleting the tenant row first waits for a writer that holds it (FOR KEY
            // SHARE), and this statement's snapshot then sees what that writer committed; later batches find no tenant.
            try connection.execute("DELETE FROM request_log WHERE tenant_id = $1::uuid", [.text(id)])
            _ = try connection.query("SELECT pg_notify($1, $2)", [.text(Self.tenantChannel), .text(id)])
            return deleted
        }
        invalidate(tenant: id)
        return deleted == 1
    }

    /// A read-write transaction scoped to the tenant that refuses (503) while a move fences its writes
    /// (`TenantFence`): for writes outside the SCIM path (tenant settings, webhook configuration).
    package func fencedTransaction<R>(tenant: String, _ body: (PostgresConnection) throws -> R) throws -> R {
        try pool.withTransaction(setup: [.prepared(Self.setTenant, [.text(tenant)]), .prepared(TenantFence.lockTenant, [.text(tenant)])]) {
            connection in
            try TenantFence.check(try connection.query(TenantFence.state, [.text(tenant)]))
            return try body(connection)
        }
    }

    // MARK: Region secrets

    /// The key that signs list cursors (read once from `region_secrets`).
    package func cursorSecret() throws -> [UInt8] {
        if let secret = cursorSecretStore.withLock({ $0 }) { return secret }
        let secret = try pool.withConnection { connection in
            try connection.query("SELECT secret FROM region_secrets WHERE name = 'cursor'").bytes(row: 0, column: 0)
        }
        guard let secret, secret.count >= 16 else { throw SCIMError(status: 500, detail: "the region has no cursor key") }
        cursorSecretStore.withLock { $0 = secret }
        return secret
    }
}

extension SCIMError {
    /// A SCIM request for a tenant the gateway never provisioned in this region.
    package static func tenantNotProvisioned(region: String) -> SCIMError {
        SCIMError(status: 404, detail: "tenant not provisioned in region \(region)")
    }
}
