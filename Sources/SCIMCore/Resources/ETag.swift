public import JSON

/// Weak entity tags derived from a resource version.
public enum ETag {
    /// `W/"<version>"`.
    public static func weak(version: String) -> String { "W/\"\(version)\"" }

    /// The version inside an entity tag (`W/"v"` or `"v"`), or nil if malformed.
    public static func version(fromTag tag: String) -> String? {
        var s = Substring(tag)
        if s.hasPrefix("W/") { s = s.dropFirst(2) }
        guard s.count >= 2, s.first == "\"", s.last == "\"" else { return nil }
        return String(s.dropFirst().dropLast())
    }

    /// Whether an `If-Match` header value matches the current version (weak comparison; `*` matches anything).
    public static func ifMatch(_ header: String, currentVersion: String) -> Bool {
        for part in header.split(separator: ",") {
            let tag = part.trimmingSpaces()
            if tag == "*" { return true }
            if let v = version(fromTag: String(tag)), v == currentVersion { return true }
        }
        return false
    }
}
