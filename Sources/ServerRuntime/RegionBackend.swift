/// One entry of a region's backend list (`backendURL`, `backendURLs` in a region file, `--region-backends`):
/// - `http://host:port`: one replica (a host name is resolved when connecting, to its first address);
/// - `dns+http://name:port`: one replica per address the name resolves to, looked up again while the gateway runs
///   (a headless service, a round-robin record). The `dns+` prefix is the convention of Thanos and Prometheus
///   (https://thanos.io/tip/thanos/service-discovery.md/#dns-service-discovery).
public struct RegionBackend: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// `dns+`: every address of `host` is a replica.
    public var resolvesAll: Bool

    public init(host: String, port: Int, resolvesAll: Bool = false) {
        self.host = host
        self.port = port
        self.resolvesAll = resolvesAll
    }

    /// Parses `http://host:port` or `dns+http://name:port` (a trailing `/` is allowed; `[::1]` literals; port 80 when
    /// absent). nil for anything else, https included: the gateway→region hop is plain HTTP on a private network,
    /// every request signed.
    public static func parse(_ text: String) -> RegionBackend? {
        var rest = Substring(text)
        var all = false
        if rest.hasPrefix("dns+") {
            all = true
            rest = rest.dropFirst(4)
        }
        guard rest.hasPrefix("http://") else { return nil }
        rest = rest.dropFirst(7)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@"), !rest.contains("|"), !rest.contains(",") else { return nil }
        let host: Substring, portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return nil }
            portText = after.isEmpty ? nil : after.dropFirst()
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
            portText = nil
        }
        guard !host.isEmpty, !host.contains(" ") else { return nil }
        var port = 80
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { return nil }
            port = p
        }
        return RegionBackend(host: String(host), port: port, resolvesAll: all)
    }

    /// `host:port` (IPv6 in brackets): the `Host` header and the replica's name in metrics and logs.
    public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String { (resolvesAll ? "dns+http://" : "http://") + authority }

    /// What the entry means, for error messages and `--help`.
    public static let syntax = "http://host:port or dns+http://name:port"
}
