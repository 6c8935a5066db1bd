public import Flags
import HTTPCore
public import NetIO
public import Telemetry

/// Options every server process takes, and how they become a server configuration.
public enum ServerOptions {
    /// `--listen`, `--workers`, limits, timeouts, TLS and logging options, with `prefix` on the env names
    /// (e.g. `SCIM_REGION_`).
    public static func common(envPrefix: String, defaultListen: String, defaultWorkers: Int,
                              workersHelp: String = "Handler threads (each in-flight request holds one)",
                              defaultMaxConnections: Int = 4096) -> [Option] {
        [
            .value("listen", "host:port", env: envPrefix + "LISTEN", default: defaultListen,
                   help: "Address to serve on; port 0 picks a free port"),
            .value("workers", "n", env: envPrefix + "WORKERS", default: String(defaultWorkers), help: workersHelp),
            .value("max-connections", "n", env: envPrefix + "MAX_CONNECTIONS", default: String(defaultMaxConnections),
                   help: "Open connections before new ones wait in the accept queue"),
            .value("max-body-bytes", "bytes", env: envPrefix + "MAX_BODY_BYTES", default: "1048576",
                   help: "Largest request body accepted; larger answers 413"),
            .value("idle-timeout", "seconds", env: envPrefix + "IDLE_TIMEOUT", default: "60",
                   help: "Close keep-alive connections idle this long"),
            .value("request-timeout", "seconds", env: envPrefix + "REQUEST_TIMEOUT", default: "15",
                   help: "A request must arrive completely within this time of its first byte (else 408)"),
            .value("tls-cert", "path", env: envPrefix + "TLS_CERT", help: "PEM certificate chain; enables HTTPS with --tls-key"),
            .value("tls-key", "path", env: envPrefix + "TLS_KEY", help: "PEM private key for --tls-cert"),
            .value("log-level", "level", env: envPrefix + "LOG_LEVEL", default: "info",
                   help: "trace, debug, info, notice, warning, error or critical"),
            .value("port-file", "path", env: envPrefix + "PORT_FILE",
                   help: "Write the bound port to this file once listening (for scripts and tests)"),
        ]
    }

    /// Splits `host:port` (IPv6 as `[::1]:8080`).
    public static func parseListen(_ text: String) throws(UsageError) -> (host: String, port: Int) {
        var host = ""
        var portText = ""
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = String(text[text.index(after: close)...].dropFirst())
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        } else {
            throw UsageError("--listen expects host:port, got '\(text)'")
        }
        guard let port = Int(portText), (0...65535).contains(port), !host.isEmpty else {
            throw UsageError("--listen expects host:port, got '\(text)'")
        }
        return (host, port)
    }

    /// Builds the server configuration from parsed common options.
    public static func serverConfiguration(name: String, _ options: ParsedOptions) throws(UsageError)
        -> HTTPServerConfiguration {
        var config = HTTPServerConfiguration()
        config.name = name
        let (host, port) = try parseListen(options.string("listen") ?? "127.0.0.1:0")
        config.host = host
        config.port = port
        config.workerThreads = try options.int("workers", in: 1...1024) ?? config.workerThreads
        config.maxConnections = try options.int("max-connections", in: 1...1_000_000) ?? config.maxConnections
        config.limits.maxBodyBytes = try options.int("max-body-bytes", in: 1...(1 << 30)) ?? config.limits.maxBodyBytes
        if let s = try options.int("idle-timeout", in: 1...86_400) { config.idleTimeout = .seconds(s) }
        if let s = try options.int("request-timeout", in: 1...3_600) { config.requestTimeout = .seconds(s) }
        switch (options.string("tls-cert"), options.string("tls-key")) {
        case (let cert?, let key?):
            config.tls = TLSConfiguration(certificateChainPath: cert, privateKeyPath: key)
        case (nil, nil):
            break
        default:
            throw UsageError("--tls-cert and --tls-key go together")
        }
        return config
    }

    public static func logLevel(_ options: ParsedOptions) throws(UsageError) -> Logger.Level {
        let name = options.string("log-level") ?? "info"
        guard let level = Logger.Level(name: name) else {
            throw UsageError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        return level
    }
}
