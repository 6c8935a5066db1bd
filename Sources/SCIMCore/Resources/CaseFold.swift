/// Case folding for attributes compared case-insensitively (`caseExact` false): ASCII fast path, Unicode lowercasing
/// otherwise. The one definition: the in-memory filter evaluator and the region's stored `*_key` columns and query
/// literals all fold with it, so a filter finds in SQL exactly what it matches in memory, whatever the database's
/// locale is.
public enum CaseFold {
    /// The folded form of `text`.
    public static func fold(_ text: String) -> String {
        var ascii = true
        var hasUpper = false
        for c in text.utf8 {
            if c >= 0x80 { ascii = false; break }
            if c >= 0x41 && c <= 0x5A { hasUpper = true }
        }
        if ascii && !hasUpper { return text }
        return text.lowercased()
    }
}
