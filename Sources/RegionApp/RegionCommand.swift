#if canImport(Glibc)
import Glibc
#endif
import Flags
import HTTPCore
import NetIO
import Postgres
import RegionLink
import SCIMCore
import ServerRuntime
import Telemetry
import Lifecycle
import RegionSCIM
import RegionEvents
import RegionRequestLog

/// `scim-region`: the SCIM service provider for one region.
package enum RegionCommand {
    static let spec = CommandLineSpec(
        command: "scim-region",
        summary: "SCIM 2.0 service provider for one region, on its own PostgreSQL database",
        usage: "scim-region --region <id> [options]",
        options: [
            .value("region", "id", env: "SCIM_REGION", help: "Region to serve (a file <regions-dir>/<id>.json)"),
            .value("regions-dir", "path", env: "SCIM_REGIONS_DIR", default: "Regions", help: "Directory of region files"),
            .value("database-url", "url", env: "SCIM_REGION_DATABASE_URL", secret: true,
                   help: "PostgreSQL URL (else the region file's urlEnv variable, else its url)"),
            .value("db-pool-size", "n", env: "SCIM_REGION_DB_POOL_SIZE",
                   help: "Database connections (default: the region file's database.maxConnections)"),
            .value("keyring-file", "path", env: "SCIM_KEYRING_FILE",
                   help: "Keyring with the gateway link keys (re-read when it changes)"),
            .value("webhook-workers", "n", env: "SCIM_REGION_WEBHOOK_WORKERS", default: "2",
                   help: "Webhook delivery threads in this process (0: this replica delivers none)"),
            .value("webhook-max-attempts", "n", env: "SCIM_REGION_WEBHOOK_MAX_ATTEMPTS", default: "15",
                   help: "Failed attempts before a batch is dead-lettered and its endpoint stops"),
            .value("webhook-retry-base", "duration", env: "SCIM_REGION_WEBHOOK_RETRY_BASE", default: "5s",
                   help: "First retry delay (doubling, with jitter)"),
            .value("webhook-retry-cap", "duration", env: "SCIM_REGION_WEBHOOK_RETRY_CAP", default: "1h", help: "Longest retry delay"),
            .value("webhook-timeout", "duration", env: "SCIM_REGION_WEBHOOK_TIMEOUT", default: "10s", help: "Deadline of one webhook POST"),
            .value("webhook-lease", "duration", env: "SCIM_REGION_WEBHOOK_LEASE", default: "60s",
                   help: "How long a replica holds an endpoint (at least twice the timeout); a crashed one's lapses"),
            .value("webhook-poll-interval", "duration", env: "SCIM_REGION_WEBHOOK_POLL_INTERVAL", default: "500ms",
                   help: "How often idle delivery threads look for new events"),
            .value("webhook-batch-size", "n", env: "SCIM_REGION_WEBHOOK_BATCH_SIZE", default: "100", help: "Events per webhook POST at most"),
            .value("webhook-ca-file", "path", env: "SCIM_REGION_WEBHOOK_CA_FILE",
                   help: "Extra trusted CA certificates (PEM) for webhook HTTPS, besides the system store"),
            .flag("webhook-allow-http", env: "SCIM_REGION_WEBHOOK_ALLOW_HTTP",
                  help: "Allow plain http webhook URLs to non-loopback hosts (development only)"),
            .value("event-retention", "duration", env: "SCIM_REGION_EVENT_RETENTION", default: "14d",
                   help: "Events older than this are purged (pull API and webhook backlog)"),
            .value("event-purge-interval", "duration", env: "SCIM_REGION_EVENT_PURGE_INTERVAL", default: "10m",
                   help: "How often expired events are purged"),
            .value("directory-recompute-batch", "n", env: "SCIM_REGION_DIRECTORY_RECOMPUTE_BATCH", default: "500",
                   help: "Users per transaction of the roles/profile recompute job"),
            .value("directory-recompute-pause", "ratio", env: "SCIM_REGION_DIRECTORY_RECOMPUTE_PAUSE", default: "2",
                   help: "After each recompute batch, pause this many times its duration (0: no pause)"),
            .value("roles-inline-limit", "n", env: "SCIM_REGION_ROLES_INLINE_LIMIT", default: "1000",
                   help: "A group write recomputes up to this many members' roles itself; beyond, the recompute job does"),
            .value("group-write-batch", "n", env: "SCIM_REGION_GROUP_WRITE_BATCH", default: "64",
                   help: "Concurrent PATCHes of one group share one transaction, up to this many (1: each its own)"),
            .value("snapshot-lifetime", "duration", env: "SCIM_REGION_SNAPSHOT_LIFETIME", default: "15m",
                   help: "How long a reconciliation snapshot stays readable (its transaction is held that long)"),
            .value("snapshot-max-open", "n", env: "SCIM_REGION_SNAPSHOT_MAX_OPEN", default: "8",
                   help: "Reconciliation snapshots this process holds at most (2 per tenant)"),
            .value("request-log", "on|off", env: "SCIM_REGION_REQUEST_LOG", default: "on",
                   help: "Record every SCIM request of this region's tenants in its database (tenants may turn theirs off)"),
            .value("request-log-buffer", "n", env: "SCIM_REGION_REQUEST_LOG_BUFFER", default: "20000",
                   help: "Request log records held in memory for the writer; beyond that they are dropped (counted)"),
            .value("request-log-batch", "n", env: "SCIM_REGION_REQUEST_LOG_BATCH", default: "500",
                   help: "Request log records per batch insert"),
            .value("request-log-purge-interval", "duration", env: "SCIM_REGION_REQUEST_LOG_PURGE_INTERVAL", default: "1m",
                   help: "How often request log records past their tenant's retention are purged"),
            .value("drain-delay", "duration", env: "SCIM_REGION_DRAIN_DELAY", default: "2s",
                   help: "On SIGTERM: answer /readyz 503 and keep serving this long before the listener closes, so gateways stop sending here first (longer than their --health-interval; 0 skips it)"),
            .flag("dev-unsigned-tenants",
                  help: "DEVELOPMENT ONLY: accept unsigned requests with 'Authorization: Bearer <tenant uuid>' and auto-create tenants"),
        ] + ServerOptions.common(envPrefix: "SCIM_REGION_", defaultListen: "", defaultWorkers: 16).map { option in
            // The region file's `listen` is the default; the flag (or env) overrides it.
            var o = option
            if o.name == "listen" { o.defaultValue = nil; o.help = "Address to serve on (default: the region file's listen)" }
            return o
        })

    /// Parses the command line, loads the region file, and serves until SIGTERM/SIGINT; returns the exit status.
    package static func main() -> Int32 {
        ServiceRunner.prepareProcess()
        let options = spec.parseOrExit()
        let environment = ProcessEnvironment.current
        let region: RegionConfiguration
        var server: HTTPServerConfiguration
        let level: Logger.Level
        let databaseURL: String
        let poolSize: Int
        let keyringPath: String?
        var webhooks = WebhookDeliverySettings()
        let retention: Duration
        let purgeInterval: Duration
        let recomputeBatch: Int
        let recomputePause: Double
        let rolesInlineLimit: Int
        let groupWriteBatch: Int
        let snapshotLifetime: Duration
        let snapshotMaxOpen: Int
        let drainDelay: Duration
        let development = options.bool("dev-unsigned-tenants")
        var requestLog = RequestLogOptions()
        do throws(UsageError) {
            let id = try options.required("region")
            do throws(RegionConfigurationError) {
                region = try RegionConfiguration.load(directory: options.string("regions-dir") ?? "Regions", id: id)
            } catch {
                throw UsageError(error.description)
            }
            server = try ServerOptions.serverConfiguration(name: "region-\(id)", options)
            if options.string("listen") == nil {
                let (host, port) = try ServerOptions.parseListen(region.listen)
                server.host = host
                server.port = port
            }
            level = try ServerOptions.logLevel(options)
            if let url = options.string("database-url"), !url.isEmpty {
                databaseURL = url
            } else if let name = region.databaseURLEnv, let url = environment[name], !url.isEmpty {
                databaseURL = url
            } else {
                databaseURL = region.databaseURL
            }
            poolSize = try options.int("db-pool-size", in: 1...1000) ?? region.databaseMaxConnections
            keyringPath = options.string("keyring-file").flatMap { $0.isEmpty ? nil : $0 }
            webhooks.workers = try options.int("webhook-workers", in: 0...64) ?? 2
            webhooks.maxAttempts = try options.int("webhook-max-attempts", in: 1...1000) ?? 15
            webhooks.batchSize = try options.int("webhook-batch-size", in: 1...1000) ?? 100
            webhooks.retry = RetrySchedule(baseMillis: try durationOption(options, "webhook-retry-base").milliseconds,
                                           capMillis: try durationOption(options, "webhook-retry-cap").milliseconds)
            webhooks.requestTimeout = try durationOption(options, "webhook-timeout")
            webhooks.lease = try durationOption(options, "webhook-lease")
            webhooks.pollInterval = try durationOption(options, "webhook-poll-interval")
            webhooks.allowInsecureHTTP = options.bool("webhook-allow-http")
            webhooks.trustedCAFile = options.string("webhook-ca-file").flatMap { $0.isEmpty ? nil : $0 }
            webhooks.baseURL = region.publicBaseURL
            guard webhooks.lease >= webhooks.requestTimeout * 2 else {
                throw UsageError("--webhook-lease must be at least twice --webhook-timeout")
            }
            drainDelay = try options.duration("drain-delay", in: .zero...(.seconds(60))) ?? .seconds(2)
            retention = try durationOption(options, "event-retention")
            purgeInterval = try durationOption(options, "event-purge-interval")
            recomputeBatch = try options.int("directory-recompute-batch", in: 1...10_000) ?? 500
            guard let pause = options.string("directory-recompute-pause").flatMap(Double.init), pause >= 0, pause <= 100 else {
                throw UsageError("--directory-recompute-pause expects a number from 0 to 100")
            }
            recomputePause = pause
            rolesInlineLimit = try options.int("roles-inline-limit", in: 0...100_000) ?? 1000
            groupWriteBatch = try options.int("group-write-batch", in: 1...1000) ?? 64
            snapshotLifetime = try durationOption(options, "snapshot-lifetime")
            snapshotMaxOpen = try options.int("snapshot-max-open", in: 1...100) ?? 8
            requestLog = try RequestLogOptions(options, parseDuration: durationOption)
        } catch {
            spec.exitWithUsageError(error)
        }

        let logger = Logger(label: "scim-region", level: level).with("region", .string(region.id))
        let configuration: PostgresConfiguration
        do {
            configuration = try PostgresConfiguration(url: databaseURL, applicationName: "scim-region-\(region.id)")
        } catch {
            spec.exitWithUsageError(UsageError("\(region.source): database.url (or --database-url) is not a valid PostgreSQL URL: \(error.context)"))
        }
        var verifier: LinkVerifier? = nil
        var watcher: KeyringWatcher? = nil
        let webhookKeys = WebhookKeys()
        if let keyringPath {
            do {
                let file = try KeyringFile(path: keyringPath)
                let linkVerifier = LinkVerifier(keyring: file.keyring)
                verifier = linkVerifier
                webhookKeys.update(file.keyring)
                // Link and webhook keys rotate without a restart: the file is re-read when it changes.
                watcher = KeyringWatcher(file: file, logger: logger) { ring in
                    linkVerifier.update(ring)
                    webhookKeys.update(ring)
                }
                if file.keyring.current(.webhook) == nil {
                    logger.warning("the keyring has no current webhook key: webhook endpoints cannot be configured")
                }
            } catch {
                spec.exitWithUsageError(UsageError("\(keyringPath): \(error)"))
            }
        }
        if keyringPath == nil && !development {
            // Not fatal, so health checks and benchmarks of the bare server keep working; but nothing SCIM will.
            logger.warning("no --keyring-file: every SCIM and tenant API request will be refused as unsigned")
        }
        if development {
            logger.warning("DEVELOPMENT MODE: unsigned requests are accepted with 'Authorization: Bearer <tenant uuid>' and unknown tenants are created on first use. Never run this in production.")
        }

        let pool = PostgresPool(configuration: configuration, maxConnections: poolSize, checkoutTimeout: .seconds(5),
                                sessionSetup: RegionDatabase.sessionSetup)
        let database = RegionDatabase(pool: pool, region: region.id, autoProvision: development, logger: logger)
        var settings = RegionSettings()
        settings.rolesInlineLimit = rolesInlineLimit
        settings.groupWriteBatchLimit = groupWriteBatch
        settings.serviceProvider.bulkMaxPayloadSize = min(settings.serviceProvider.bulkMaxPayloadSize, server.limits.maxBodyBytes)
        let metrics = RegionMetrics()
        let quirks = QuirkCounts(metrics: metrics.registry)
        let service = SCIMService(database: database, settings: settings, logger: logger, quirkCounts: quirks, metrics: metrics.registry)
        let readiness = Readiness()
        let events = EventsAPI(database: database, keys: webhookKeys, allowInsecureHTTP: webhooks.allowInsecureHTTP)
        let snapshots = Snapshots(database: database, maxOpen: snapshotMaxOpen, lifetimeSeconds: snapshotLifetime.components.seconds)
        let log = requestLog.enabled
            ? requestLog.make(configuration: configuration, database: database, region: region.id, metrics: metrics.registry,
                              logger: logger, ready: { readiness.isMigrated })
            : nil
        let responder = RegionResponder(service: service, authenticator: Authenticator(verifier: verifier, developmentMode: development),
                                        readiness: readiness, region: region.id, logger: logger, metrics: metrics, events: events,
                                        requestLog: log?.api, directory: DirectoryAPI(database: database, snapshots: snapshots))
        server.errorResponse = { status, message in
            RegionResponder.error(SCIMError(status: status.code, detail: message))
        }
        let http = HTTPServer(configuration: server, responder: responder, logger: logger)
        metrics.registry.gaugeFunction("scim_region_db_pool_connections", "Database connections by state.", labels: ["state"]) {
            let s = pool.statistics
            return [(["idle"], Double(s.idle)), (["in_use"], Double(s.inUse)), (["waiting"], Double(s.waiters))]
        }
        metrics.registry.gaugeFunction("scim_region_db_pool_timeouts", "Checkouts that timed out waiting for a connection.") {
            [([], Double(pool.statistics.timeouts))]
        }
        // Divided by the request rate: round trips to PostgreSQL per SCIM request (a user POST is 1, a user PATCH 2).
        metrics.registry.gaugeFunction("scim_region_db_round_trips", "Round trips to PostgreSQL made by the request pool (a running count).") {
            [([], Double(pool.statistics.roundTrips))]
        }
        metrics.registry.gaugeFunction("scim_region_connections_open", "Open HTTP connections.") {
            [([], Double(http.stats.snapshot.connectionsOpen))]
        }
        // The quirk flusher starts before the HTTP server so it stops after it: its last flush sees every request.
        var services: [any Service] = [MigrationService(pool: pool, readiness: readiness, logger: logger).service,
                                       TenantChangeListener(configuration: configuration, database: database),
                                       quirks.flushService(into: database)]
        // The request log's writer starts before the HTTP server so it stops after it: the last requests are written.
        if let log { services.append(log.api.writer) }
        services += [http, PortAnnouncer(server: http, path: options.string("port-file"))]
        if let watcher { services.append(watcher.service()) }
        services.append(EventRetention(pool: pool, retentionSeconds: retention.components.seconds, interval: purgeInterval,
                                       logger: logger, ready: { readiness.isMigrated }).service)
        services.append(DirectoryRecompute(database: database, logger: logger, batchSize: recomputeBatch,
                                           pauseRatio: recomputePause, ready: { readiness.isMigrated }))
        services.append(snapshots.service)
        if let log { services.append(log.retention.service) }
        if webhooks.workers > 0 {
            services.append(WebhookDelivery(database: database, keys: webhookKeys, settings: webhooks, logger: logger,
                                            ready: { readiness.isMigrated }).service)
        }
        // Last to start, first to stop: readiness goes away while the listener still serves (see DrainDelay).
        services.append(DrainDelay(readiness: readiness, delay: drainDelay, logger: logger))
        return ServiceRunner.run(services, logger: logger)
    }
}

extension RegionDatabase {
    /// Per-connection settings: UTC (timestamps round-trip through text in cursors) and a statement timeout.
    static let sessionSetup: PostgresPool.SessionSetup = { connection in
        try connection.executeScript("SET TIME ZONE 'UTC'; SET statement_timeout = '30s'")
    }
}

private func durationOption(_ options: ParsedOptions, _ name: String) throws(UsageError) -> Duration {
    guard let text = options.string(name), let duration = Duration.parse(text), duration > .zero else {
        throw UsageError("--\(name) expects a duration such as 500ms, 10s, 15m, 1h or 14d")
    }
    return duration
}
