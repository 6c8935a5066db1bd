/// Plain-HTTP URLs of backends and admin listeners.
public enum HTTPURL {
    /// `http://host:port[/…]` → (host, port); `[::1]` literals; port 80 when absent. nil for anything else.
    public static func hostAndPort(_ url: String) -> (String, Int)? {
        guard url.hasPrefix("http://") else { return nil }
        var rest = url.dropFirst(7)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()) else { return (host, 80) }
            return (host, port)
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            return (String(rest[..<colon]), port)
        }
        return rest.isEmpty ? nil : (String(rest), 80)
    }
}
