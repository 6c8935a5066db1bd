import Crypto
import Locking
import Telemetry

/// PostgreSQL array literals for `text[]` and `uuid[]` parameters (sent as one text value, never spliced into SQL).
enum ArrayLiteral {
    /// `{"a","b"}` with `"` and `\` escaped.
    static func text<S: Sequence<String>>(_ values: S) -> String {
        var out = "{"
        var first = true
        for v in values {
            if !first { out += "," }
            first = false
            out += "\""
            for ch in v.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }
}
