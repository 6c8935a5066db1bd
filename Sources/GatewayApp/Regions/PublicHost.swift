/// A `Host` header the way region host names are compared: lowercase, the trailing dot of a fully qualified name
/// removed (`api.example.com.` is `api.example.com`), an IPv6 literal kept in its brackets. Returns the name with
/// its port as sent and the bare name; nil for something that is no host (empty, spaces, control characters).
enum PublicHost {
    static func canonical(_ header: String?) -> (withPort: String, bare: String)? {
        guard let header, !header.isEmpty, header.utf8.count <= 255,
              header.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x2F && $0 != 0x5C && $0 != 0x40 }) else { return nil }
        let lower = header.lowercased()
        var name: Substring
        var port: Substring?
        if lower.hasPrefix("[") {
            guard let close = lower.firstIndex(of: "]") else { return nil }
            name = lower[...close]
            let rest = lower[lower.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                port = rest.dropFirst()
            }
        } else if let colon = lower.lastIndex(of: ":") {
            name = lower[..<colon]
            port = lower[lower.index(after: colon)...]
        } else {
            name = lower[...]
        }
        if name.hasSuffix(".") { name = name.dropLast() }
        if let p = port, p.isEmpty || !p.allSatisfy(\.isASCIIDigit) { return nil }
        guard !name.isEmpty else { return nil }
        let bare = String(name)
        return (port.map { bare + ":" + $0 } ?? bare, bare)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
