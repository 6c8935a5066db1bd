#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Flags
import HTTPCore
import JSON
import NetIO
import Postgres
import RegionLink
import SCIMCore
import ServerRuntime
import Synchronization
import Telemetry
import Locking
import Lifecycle

/// `scim-gateway`: what every IdP talks to, plus the operator's admin API on its own listener.
package enum GatewayCommand {
    static let spec = CommandLineSpec(
        command: "scim-gateway",
        summary: "SCIM 2.0 gateway: resolves the tenant from the bearer token and routes to its home region",
        usage: "scim-gateway --control-database-url <url> --keyring-file <path> [options]",
        options: ServerOptions.common(envPrefix: "SCIM_GATEWAY_", defaultListen: "127.0.0.1:8080",
                                      // Workers never wait on a region: one per core (at least two) keeps them busy.
                                      defaultWorkers: max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))),
                                      workersHelp: "Threads reading requests and running the checks (a request waiting on a region holds none)",
                                      defaultMaxConnections: 16384) + [
            .value("admin-listen", "host:port", env: "SCIM_GATEWAY_ADMIN_LISTEN", default: "127.0.0.1:9090",
                   help: "Admin API listener (keep it private)"),
            .value("admin-port-file", "path", env: "SCIM_GATEWAY_ADMIN_PORT_FILE", help: "Write the admin port here once listening"),
            .value("admin-token-file", "path", env: "SCIM_GATEWAY_ADMIN_TOKEN_FILE",
                   help: "Bootstrap admin credential: registered if the file holds one, else created and written (mode 0600)"),
            .value("control-database-url", "url", env: "SCIM_CONTROL_DATABASE_URL",
                   help: "PostgreSQL URL of the control plane (tenants, token hashes, audit)"),
            .value("db-pool-size", "n", env: "SCIM_GATEWAY_DB_POOL_SIZE", default: "8", help: "Control-plane connections"),
            .value("database-password-file", "path", env: "SCIM_DATABASE_PASSWORD_FILE",
                   help: "File holding the database password (keeps it out of URLs, flags and the environment)"),
            .value("keyring-file", "path", env: "SCIM_KEYRING_FILE", help: "Keyring with link keys and token peppers (secret)"),
            .flag("create-keyring", env: "SCIM_CREATE_KEYRING", help: "Create the keyring file with fresh keys if it is missing"),
            .value("regions-dir", "path", env: "SCIM_REGIONS_DIR", default: "Regions", help: "Directory of <region>.json files"),
            .value("region-backends", "id=url|url,...", env: "SCIM_GATEWAY_REGION_BACKENDS",
                   help: "Override the region files' backends, e.g. us=http://127.0.0.1:8081|http://127.0.0.1:8083,eu2=dns+http://region-eu2:8082 (replicas of a region separated by |)"),
            .value("region-backends-file", "path", env: "SCIM_GATEWAY_REGION_BACKENDS_FILE",
                   help: "Like --region-backends, read from a file that is re-read while running (replicas change without a restart)"),
            .value("regions-reload-interval", "duration", env: "SCIM_GATEWAY_REGIONS_RELOAD_INTERVAL", default: "2s",
                   help: "How often the region files (and --region-backends-file, and dns+ names) are checked for replica changes; SIGHUP checks at once"),
            .value("tenant-rate", "rps", env: "SCIM_GATEWAY_TENANT_RATE", default: "200",
                   help: "Default requests per second per tenant (0 = unlimited; tenants may override)"),
            .value("tenant-burst", "n", env: "SCIM_GATEWAY_TENANT_BURST", default: "400", help: "Default burst per tenant"),
            .value("rate-limit-max-delay", "duration", env: "SCIM_GATEWAY_RATE_LIMIT_MAX_DELAY", default: "1s",
                   help: "A tenant over its rate waits up to this long for its turn (holding no thread) before a 429; 0 refuses at once"),
            .value("auth-failure-burst", "n", env: "SCIM_GATEWAY_AUTH_FAILURE_BURST", default: "20",
                   help: "Failed authentications per source before it is throttled (refills 1/s)"),
            .value("rotation-grace", "seconds", env: "SCIM_GATEWAY_ROTATION_GRACE", default: "86400",
                   help: "Default grace window of a rotated token"),
            .value("oauth-global-hosts", "hosts", env: "SCIM_GATEWAY_OAUTH_GLOBAL_HOSTS", default: "",
                   help: "Comma-separated hosts in no region whose /oauth/token serves every region's clients (an Entra gallery app has one token URL for all customers)"),
            .value("oauth-min-token-lifetime", "duration", env: "SCIM_GATEWAY_OAUTH_MIN_TOKEN_LIFETIME", default: "5m",
                   help: "Shortest OAuth access-token lifetime an operator may set on a client (1s..5m; lower it only for tests and demos of expiry)"),
            .value("upstream-threads", "n", env: "SCIM_GATEWAY_UPSTREAM_THREADS", default: "0",
                   help: "Threads of their own for region connections; 0: the --workers drive them (one event loop for client and region connections)"),
            .value("region-max-in-flight", "n", env: "SCIM_GATEWAY_REGION_MAX_IN_FLIGHT", default: "64",
                   help: "Per region replica: requests in flight at once (one connection each); the bulkhead's cap"),
            .value("region-max-queued", "n", env: "SCIM_GATEWAY_REGION_MAX_QUEUED", default: "64",
                   help: "Per region replica: requests waiting for a free connection; beyond that another replica, or 503 at once"),
            .value("region-queue-timeout", "duration", env: "SCIM_GATEWAY_REGION_QUEUE_TIMEOUT", default: "500ms",
                   help: "Per region replica: longest wait in that queue (then 503)"),
            .value("upstream-connect-timeout", "duration", env: "SCIM_GATEWAY_UPSTREAM_CONNECT_TIMEOUT", default: "1s",
                   help: "TCP connect to a region (then 503)"),
            .value("upstream-first-byte-timeout", "duration", env: "SCIM_GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT", default: "10s",
                   help: "From a request sent to the first byte of the region's answer (then 503)"),
            .value("upstream-timeout", "duration", env: "SCIM_GATEWAY_UPSTREAM_TIMEOUT", default: "20s",
                   help: "Whole region call, queue wait included (then 503)"),
            .value("breaker-failures", "n", env: "SCIM_GATEWAY_BREAKER_FAILURES", default: "5",
                   help: "Consecutive failed calls to a region replica that open its circuit breaker"),
            .value("breaker-open", "duration", env: "SCIM_GATEWAY_BREAKER_OPEN", default: "2s",
                   help: "How long an open breaker refuses before letting one trial through"),
            .value("health-interval", "duration", env: "SCIM_GATEWAY_HEALTH_INTERVAL", default: "1s",
                   help: "How often each region replica's /readyz is probed (a failed probe opens its breaker)"),
            .flag("strict-hosts", env: "SCIM_GATEWAY_STRICT_HOSTS",
                  help: "Answer 421 for Host headers that belong to no region (the default; kept for old configurations)"),
            .flag("allow-any-host", env: "SCIM_GATEWAY_ALLOW_ANY_HOST",
                  help: "Development only: serve requests on hosts that belong to no region (127.0.0.1, localhost), building URLs from Host; credentials are then not locked to their region's host"),
            .flag("trust-forwarded-proto", env: "SCIM_GATEWAY_TRUST_FORWARDED_PROTO",
                  help: "Use X-Forwarded-Proto from a TLS-terminating proxy for the public base URL"),
            .value("move-workers", "n", env: "SCIM_GATEWAY_MOVE_WORKERS", default: "1",
                   help: "Tenant moves between regions this replica runs at once (0: none; another replica runs them)"),
            .value("move-max-pause", "duration", env: "SCIM_GATEWAY_MOVE_MAX_PAUSE", default: "5s",
                   help: "Longest write pause of a tenant move's final catch-up (longer: writes resume, catch-up goes on)"),
            .value("move-lease", "duration", env: "SCIM_GATEWAY_MOVE_LEASE", default: "15s",
                   help: "How long a replica's claim on a tenant move lasts unrenewed (after a crash another takes it over then)"),
            .value("request-log-queue", "n", env: "SCIM_GATEWAY_REQUEST_LOG_QUEUE", default: "10000",
                   help: "Records of requests refused here (deactivated, rate-limited, misdirected, region down) held for their home region's request log; beyond that they are dropped (counted)"),
            .value("trusted-proxies", "cidrs", env: "SCIM_GATEWAY_TRUSTED_PROXIES", default: "",
                   help: "Load balancers whose X-Forwarded-For names the client (comma-separated addresses or CIDR blocks, e.g. 10.0.0.0/8); failed-authentication throttling then keys on that client (IPv6 by /64)"),
        ],
        epilogue: "Both listeners shut down gracefully on SIGTERM/SIGINT.")

    package static func main() -> Int32 {
        // SIGHUP re-reads the region files (replica sets) at once.
        ServiceRunner.prepareProcess(reloadSignal: true)
        let options = spec.parseOrExit()
        do {
            return try run(options)
        } catch let error as UsageError {
            spec.exitWithUsageError(error)
        } catch {
            writeStandardError("scim-gateway: \(error)\n")
            return 1
        }
    }

    static func run(_ options: ParsedOptions) throws -> Int32 {
        let publicConfig = try ServerOptions.serverConfiguration(name: "gateway", options)
        var adminConfig = HTTPServerConfiguration()
        adminConfig.name = "admin"
        (adminConfig.host, adminConfig.port) = try ServerOptions.parseListen(options.string("admin-listen") ?? "127.0.0.1:9090")
        adminConfig.workerThreads = 4
        adminConfig.limits.maxBodyBytes = 256 * 1024
        let level = try ServerOptions.logLevel(options)
        let logger = Logger(label: "scim-gateway", level: level)
        // Checked before any connection is made: a typo fails at once.
        let clientSource: ClientSource
        do {
            clientSource = try ClientSource(parsing: options.string("trusted-proxies") ?? "")
        } catch {
            throw UsageError("--trusted-proxies: \(error)")
        }

        let regions: [RegionConfiguration]
        do {
            regions = try RegionConfiguration.loadAll(directory: options.string("regions-dir") ?? "Regions")
        } catch {
            throw UsageError(error.description)
        }
        let flagOverrides: [String: [RegionBackend]]
        let overrides: [String: [RegionBackend]]
        let overridesFile = options.string("region-backends-file").flatMap { $0.isEmpty ? nil : $0 }
        do {
            flagOverrides = try RegionBackendOverrides.parse(options.string("region-backends") ?? "")
            overrides = try RegionsWatcher.readOverrides(file: overridesFile, flag: flagOverrides)
        } catch {
            throw UsageError(error.description)
        }
        let reloadInterval = try options.duration("regions-reload-interval", in: .milliseconds(100)...(.seconds(3600))) ?? .seconds(2)
        var link = RegionLinkSettings()
        link.upstream.maxConnections = try options.int("region-max-in-flight", in: 1...10_000) ?? 64
        link.upstream.maxIdleConnections = link.upstream.maxConnections
        link.upstream.maxQueued = try options.int("region-max-queued", in: 0...100_000) ?? 64
        link.upstream.queueTimeout = try options.duration("region-queue-timeout", in: .milliseconds(1)...(.seconds(60))) ?? .milliseconds(500)
        link.upstream.connectTimeout = try options.duration("upstream-connect-timeout", in: .milliseconds(10)...(.seconds(60))) ?? .seconds(1)
        link.upstream.firstByteTimeout = try options.duration("upstream-first-byte-timeout", in: .milliseconds(10)...(.seconds(600))) ?? .seconds(10)
        link.upstream.totalTimeout = try options.duration("upstream-timeout", in: .milliseconds(10)...(.seconds(600))) ?? .seconds(20)
        link.breakerFailures = try options.int("breaker-failures", in: 1...10_000) ?? 5
        link.breakerOpenDuration = try options.duration("breaker-open", in: .milliseconds(10)...(.seconds(600))) ?? .seconds(2)
        link.client.maxIdleConnections = 8
        let healthInterval = try options.duration("health-interval", in: .milliseconds(50)...(.seconds(60))) ?? .seconds(1)
        let upstreamThreads = try options.int("upstream-threads", in: 0...64) ?? 0
        let upstreamLoop = UpstreamLoop(name: "upstream", threads: upstreamThreads)
        let directory: RegionDirectory
        do {
            directory = try RegionDirectory(regions: regions, backendOverrides: overrides, loop: upstreamLoop, settings: link)
        } catch {
            throw UsageError(error.description)
        }

        let keyringPath = try options.required("keyring-file")
        let keyringFile: KeyringFile
        do {
            keyringFile = try KeyringFile(path: keyringPath, createIfMissing: options.bool("create-keyring"))
        } catch {
            throw UsageError(error.description)
        }
        guard keyringFile.keyring.current(.link) != nil, keyringFile.keyring.current(.pepper) != nil else {
            throw UsageError("\(keyringPath): needs one current link key and one current pepper")
        }

        let dbURL = try options.required("control-database-url")
        var dbConfig: PostgresConfiguration
        do { dbConfig = try PostgresConfiguration(url: dbURL, applicationName: "scim-gateway") } catch {
            throw UsageError("--control-database-url: \(error)")
        }
        if let passwordFile = options.string("database-password-file") {
            guard let bytes = readFileBytes(passwordFile) else { throw UsageError("cannot read --database-password-file \(passwordFile)") }
            dbConfig = dbConfig.withUser(dbConfig.user ?? "scim", password: String(decoding: bytes, as: UTF8.self).trimmingWhitespace())
        }
        let pool = PostgresPool(configuration: dbConfig, maxConnections: try options.int("db-pool-size", in: 1...500) ?? 8)
        let store = ControlStore(pool: pool)
        do {
            try store.migrate()
        } catch {
            logger.critical("control-plane migration failed", [("error", .string("\(error)"))])
            return 1
        }
        if let tokenFile = options.string("admin-token-file") {
            try bootstrapAdminToken(path: tokenFile, store: store, keyring: keyringFile.keyring, logger: logger)
        }

        let authenticator = TokenAuthenticator(store: store, keyring: { [keyringFile] in keyringFile.keyring }, logger: logger)
        var policy = GatewayPolicy()
        policy.tenantRate = Double(try options.int("tenant-rate", in: 0...10_000_000) ?? 200)
        policy.tenantBurst = Double(try options.int("tenant-burst", in: 0...10_000_000) ?? 400)
        policy.failureBurst = Double(try options.int("auth-failure-burst", in: 1...1_000_000) ?? 20)
        // Region-locked credentials by default (docs/residency.md): a token works only on its region's public host.
        if options.bool("strict-hosts") && options.bool("allow-any-host") {
            throw UsageError("--strict-hosts and --allow-any-host contradict each other")
        }
        policy.strictHosts = !options.bool("allow-any-host")
        policy.trustForwardedProto = options.bool("trust-forwarded-proto")
        policy.clientSource = clientSource
        policy.oauthGlobalHosts = Set((options.string("oauth-global-hosts") ?? "").split(separator: ",")
            .compactMap { PublicHost.canonical(String($0).trimmingWhitespace())?.withPort })
        policy.rerouteWindow = link.upstream.totalTimeout
        policy.rateLimitMaxDelay = try options.duration("rate-limit-max-delay", in: .zero...(.seconds(30))) ?? .seconds(1)

        let metrics = GatewayMetrics()
        let regionHealth = RegionHealth(directory: directory, interval: healthInterval, logger: logger)
        let regionsWatcher = RegionsWatcher(directory: directory, health: regionHealth,
                                            regionsDirectory: options.string("regions-dir") ?? "Regions",
                                            flagOverrides: flagOverrides, overridesFile: overridesFile, interval: reloadInterval,
                                            retireAfter: link.upstream.totalTimeout + .seconds(1), logger: logger)
        for id in directory.ids where directory.routes[id]!.replicas.members.isEmpty {
            logger.warning("region has no replica yet (its dns+ name does not resolve); its tenants get 503 until it does",
                           [("region", .string(id))])
        }
        let controlHealth = ControlPlaneHealth(pool: pool)
        metrics.registerRegions(directory: directory, health: regionHealth)
        let failureLimiter = KeyedRateLimiter()
        // The token endpoint's database work runs here, never on the threads that read requests.
        let oauthWork = WorkQueue(name: "oauth", threads: 2, capacity: 256)
        // Requests refused here go to their tenant's home region's request log, from a queue on a thread of its own.
        let refusalLog = RequestLogShipper(directory: directory, client: RegionInternalClient(keyring: { [keyringFile] in keyringFile.keyring }),
                                           registry: metrics.registry, logger: logger,
                                           capacity: try options.int("request-log-queue", in: 1...1_000_000) ?? 10_000)
        let oauth = OAuthTokenEndpoint(store: store, directory: directory, keyring: { [keyringFile] in keyringFile.keyring },
                                       policy: policy, logger: logger, registry: metrics.registry,
                                       failureLimiter: failureLimiter, work: oauthWork)
        let webWork = WorkQueue(name: "web", threads: 2, capacity: 256)
        // Token rows missing from the cache are read here, not on the threads that serve connections.
        let authWork = WorkQueue(name: "auth", threads: 4, capacity: 1024)
        let rotationGrace = try options.int("rotation-grace", in: 0...2_592_000) ?? 86_400
        let requestLog = RequestLogClient(regions: RegionInternalClient(keyring: { [keyringFile] in keyringFile.keyring }))
        let setup = SetupPortal(store: store, directory: directory, keyring: { [keyringFile] in keyringFile.keyring }, policy: policy,
                                authenticator: authenticator, failureLimiter: failureLimiter, requestLog: requestLog,
                                logger: logger.with("listener", "setup"), work: webWork, defaultRotationGraceSeconds: rotationGrace)
        let proxy = SCIMProxy(authenticator: authenticator, directory: directory,
                              keyring: { [keyringFile] in keyringFile.keyring }, policy: policy, logger: logger,
                              metrics: metrics,
                              schedule: { [upstreamLoop] delay, task in upstreamLoop.schedule(after: delay, task) },
                              failureLimiter: failureLimiter, oauth: oauth, setup: setup, authWork: authWork,
                              requestLog: refusalLog,
                              readiness: {
                                  // Ready while the control plane answers and at least one region does: a single region
                                  // outage must not take every tenant's traffic off this gateway. Read from the
                                  // background probes: answering /readyz never waits on anything.
                                  let snapshot = regionHealth.snapshot
                                  let regions = directory.ids.map { id -> (String, Bool, String) in
                                      let members = directory.routes[id]?.replicas.members ?? []
                                      let ready = members.filter { $0.probedUp == true }.count
                                      return (id, snapshot[id] ?? false, "\(ready)/\(members.count) replicas ready")
                                  }
                                  let detail = regions.map { "\($0.0): \($0.1 ? "ready" : "unreachable") (\($0.2))" }
                                      .joined(separator: ", ")
                                  guard controlHealth.isUp else { return (false, "control plane unreachable; regions: " + detail) }
                                  guard regions.contains(where: { $0.1 }) else { return (false, "no region reachable: " + detail) }
                                  return (true, "control plane reachable; regions: " + detail)
                              })
        var publicServer = publicConfig
        if upstreamThreads == 0 { publicServer.drives = upstreamLoop }
        publicServer.errorResponse = { status, message in
            HTTPResponse(error: SCIMError(status: status.code, detail: message))
        }
        let admin = AdminAPI(store: store, directory: directory, keyringFile: keyringFile, authenticator: authenticator,
                             logger: logger.with("listener", "admin"), metrics: metrics.registry,
                             defaultRotationGraceSeconds: try options.int("rotation-grace", in: 0...2_592_000) ?? 86_400,
                             oauthMinimumLifetimeSeconds: Int((try options.duration("oauth-min-token-lifetime", in: .seconds(1)...(.seconds(300)))
                                                               ?? .seconds(300)).components.seconds))

        var moving = MoverSettings()
        moving.workers = try options.int("move-workers", in: 0...16) ?? 1
        moving.maxPause = try options.duration("move-max-pause", in: .milliseconds(500)...(.seconds(300))) ?? .seconds(5)
        moving.leaseSeconds = Int((try options.duration("move-lease", in: .seconds(3)...(.seconds(600))) ?? .seconds(15)).components.seconds)
        let mover = TenantMover(store: store, directory: directory, regions: RegionInternalClient(keyring: { [keyringFile] in keyringFile.keyring }),
                                settings: moving, logger: logger)

        let listener = ControlPlaneListener(configuration: dbConfig, authenticator: authenticator, logger: logger)
        let watcher = KeyringWatcher(file: keyringFile, logger: logger) { _ in
            // Readers call `keyringFile.keyring` on every use; nothing to swap. Cached token rows stay valid.
        }
        let publicHTTP = HTTPServer(configuration: publicServer, deferred: proxy, logger: logger)
        let console = OperatorConsole(admin: admin, activity: proxy.activity, regionHealth: { regionHealth.snapshot },
                                      trustForwardedProto: policy.trustForwardedProto)
        let adminHTTP = HTTPServer(configuration: adminConfig,
                                   responder: AdminListener(admin: admin, console: console, logger: logger.with("listener", "console")),
                                   logger: logger)
        metrics.registry.gaugeFunction("scim_gateway_connections_open", "Open client connections on the public listener.") {
            [([], Double(publicHTTP.stats.snapshot.connectionsOpen))]
        }
        metrics.registry.gaugeFunction("scim_gateway_requests_waiting", "Client requests waiting for a region's answer (they hold no thread).") {
            [([], Double(publicHTTP.parkedRequests))]
        }
        metrics.registry.gaugeFunction("scim_gateway_control_pool_connections", "Control-plane database connections by state.",
                                       labels: ["state"]) {
            let s = pool.statistics
            return [(["idle"], Double(s.idle)), (["in_use"], Double(s.inUse)), (["waiting"], Double(s.waiters))]
        }
        metrics.registry.gaugeFunction("scim_gateway_token_cache_entries", "Token rows cached by this replica.") {
            [([], Double(authenticator.cachedCount))]
        }
        // Last-use times are written in batches every few seconds, and once more at shutdown.
        let lastUsed = PeriodicService("last-used-flusher", every: .seconds(5), last: { authenticator.flushLastUsed() }) {
            authenticator.flushLastUsed()
            return true
        }
        let services: [any Service] = [watcher.service(), listener, lastUsed, controlHealth.service(every: healthInterval),
                                       UpstreamLoopService(loop: upstreamLoop), oauthWork, webWork, authWork]
            + [regionHealth.service, regionsWatcher.service(reloadSignal: true)]
            + mover.services
            + [refusalLog]  // before the listeners, so it stops after them and sends their last refusals
            + [publicHTTP, adminHTTP,
               PortAnnouncer(server: publicHTTP, path: options.string("port-file")),
               PortAnnouncer(server: adminHTTP, path: options.string("admin-port-file"))]
        return ServiceRunner.run(services, logger: logger)
    }

    /// Registers the admin credential in `path`, or creates one there (mode 0600) on first start.
    static func bootstrapAdminToken(path: String, store: ControlStore, keyring: Keyring, logger: Logger) throws {
        guard let pepper = keyring.current(.pepper) else { throw UsageError("keyring has no current pepper") }
        if let bytes = readFileBytes(path) {
            let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
            guard case .success(let credential) = TokenCredential.parse(text, kind: .admin) else {
                throw UsageError("\(path) does not hold a valid admin token")
            }
            try store.registerAdminKey(credential, label: "bootstrap", pepper: (pepper.id, pepper.secret))
            logger.notice("admin credential registered from file", [("admin.key", .string(credential.id))])
            return
        }
        let credential = TokenCredential.generate(.admin)
        try store.registerAdminKey(credential, label: "bootstrap", pepper: (pepper.id, pepper.secret))
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw UsageError("cannot create admin token file \(path)") }
        let bytes = Array((credential.token + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        logger.notice("admin credential created", [("admin.key", .string(credential.id)), ("file", .string(path))])
    }
}
