#if canImport(Glibc)
import Glibc
#endif
import Flags
import Postgres
import RegionSCIM
import RegionRequestLog
import Telemetry

/// The region's request-log flags (`--request-log`, `--request-log-buffer`, `--request-log-batch`,
/// `--request-log-purge-interval`) and how they build the log: a writer on a connection of its own, and two more
/// connections for reads and the purge, each with an `application_name` that says what it is (`pg_stat_activity`).
struct RequestLogOptions {
    var enabled = true
    var bufferCapacity = 20_000
    var batchSize = 500
    var purgeInterval: Duration = .seconds(60)

    init() {}

    init(_ options: ParsedOptions, parseDuration: (ParsedOptions, String) throws(UsageError) -> Duration) throws(UsageError) {
        switch options.string("request-log") ?? "on" {
        case "on": enabled = true
        case "off": enabled = false
        default: throw UsageError("--request-log takes on or off")
        }
        bufferCapacity = try options.int("request-log-buffer", in: 1...1_000_000) ?? 20_000
        batchSize = try options.int("request-log-batch", in: 1...10_000) ?? 500
        purgeInterval = try parseDuration(options, "request-log-purge-interval")
    }

    /// Reads of the log give up quickly on a locked table (the API answers 503) instead of holding a connection.
    static let readerSession: PostgresPool.SessionSetup = { connection in
        try connection.executeScript("SET TIME ZONE 'UTC'; SET statement_timeout = '10s'; SET lock_timeout = '2s'")
    }

    /// This process in the records it writes: `<region>/<host>/<pid>` (the residency report counts by it).
    static func processName(region: String) -> String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0
            ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "host"
        return "\(region)/\(host.isEmpty ? "host" : host)/\(getpid())"
    }

    /// The read/ingest API (holding the writer) and the retention job.
    func make(configuration: PostgresConfiguration, database: RegionDatabase, region: String, metrics: MetricsRegistry,
              logger: Logger, ready: @escaping @Sendable () -> Bool) -> (api: RequestLogAPI, retention: RequestLogRetention) {
        var writerConfiguration = configuration
        writerConfiguration.applicationName = "scim-region-\(region)-request-log-writer"
        let writer = RequestLogWriter(configuration: writerConfiguration, database: database, registry: metrics,
                                      logger: logger.with("component", .string("request-log")), bufferCapacity: bufferCapacity,
                                      batchSize: batchSize, writtenBy: Self.processName(region: region), ready: ready)
        var readerConfiguration = configuration
        readerConfiguration.applicationName = "scim-region-\(region)-request-log"
        let pool = PostgresPool(configuration: readerConfiguration, maxConnections: 2, checkoutTimeout: .seconds(2),
                                sessionSetup: Self.readerSession)
        return (RequestLogAPI(pool: pool, database: database, writer: writer, region: region),
                RequestLogRetention(pool: pool, writer: writer, interval: purgeInterval, logger: logger, ready: ready))
    }
}
