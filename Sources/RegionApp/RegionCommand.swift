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

/// `scim-region`: the SCIM service provider for one region.
public enum RegionCommand {
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
            .flag("dev-unsigned-tenants",
                  help: "DEVELOPMENT ONLY: accept unsigned requests with 'Authorization: Bearer <tenant uuid>' and auto-create tenants"),
        ] + ServerOptions.common(envPrefix: "SCIM_REGION_", defaultListen: "", defaultWorkers: 16).map { option in
            // The region file's `listen` is the default; the flag (or env) overrides it.
            var o = option
            if o.name == "listen" { o.defaultValue = nil; o.help = "Address to serve on (default: the region file's listen)" }
            return o
        })

    /// Parses the command line, loads the region file, and serves until SIGTERM/SIGINT; returns the exit status.
    public static func main() -> Int32 {
        ServiceRunner.prepareProcess()
        let options = spec.parseOrExit()
        let environment = ProcessEnvironment.current
        let region: RegionConfiguration
        var server: HTTPServerConfiguration
        let level: Logger.Level
        let databaseURL: String
        let poolSize: Int
        let keyringPath: String?
        let development = options.bool("dev-unsigned-tenants")
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
        } catch {
            spec.exitWithUsageError(error)
        }

        let logger = Logger(label: "scim-region", level: level).with("region", .string(region.id))
        let configuration: PostgresConfiguration
        do {
            configuration = try PostgresConfiguration(url: databaseURL, applicationName: "scim-region-\(region.id)")
        } catch {
            spec.exitWithUsageError(UsageError("\(region.source): database.url (or --database-url) is not a valid PostgreSQL URL"))
        }
        var verifier: LinkVerifier? = nil
        var watcher: KeyringWatcher? = nil
        if let keyringPath {
            do {
                let file = try KeyringFile(path: keyringPath)
                let linkVerifier = LinkVerifier(keyring: file.keyring)
                verifier = linkVerifier
                // Link keys rotate without a restart: the file is re-read when it changes.
                watcher = KeyringWatcher(file: file, logger: logger) { linkVerifier.update($0) }
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
        settings.serviceProvider.bulkMaxPayloadSize = min(settings.serviceProvider.bulkMaxPayloadSize, server.limits.maxBodyBytes)
        let metrics = RegionMetrics()
        let quirks = QuirkCounts(metrics: metrics.registry)
        let service = SCIMService(database: database, settings: settings, logger: logger, quirkCounts: quirks)
        let readiness = Readiness()
        let responder = RegionResponder(service: service, authenticator: Authenticator(verifier: verifier, developmentMode: development),
                                        readiness: readiness, region: region.id, logger: logger, metrics: metrics)
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
        metrics.registry.gaugeFunction("scim_region_connections_open", "Open HTTP connections.") {
            [([], Double(http.stats.snapshot.connectionsOpen))]
        }
        // The quirk flusher starts before the HTTP server so it stops after it: its last flush sees every request.
        var services: [any Service] = [MigrationService(pool: pool, readiness: readiness, logger: logger),
                                       TenantChangeListener(configuration: configuration, database: database),
                                       QuirkFlushService(counts: quirks, database: database), http,
                                       PortAnnouncer(server: http, path: options.string("port-file"))]
        if let watcher { services.append(watcher) }
        return ServiceRunner.run(services, logger: logger)
    }
}

extension RegionDatabase {
    /// Per-connection settings: UTC (timestamps round-trip through text in cursors) and a statement timeout.
    static let sessionSetup: PostgresPool.SessionSetup = { connection in
        try connection.executeScript("SET TIME ZONE 'UTC'; SET statement_timeout = '30s'")
    }
}
