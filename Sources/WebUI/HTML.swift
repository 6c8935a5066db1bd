/// A fragment of HTML that is safe to send: text put into it by interpolation is escaped, so a tenant name, a
/// userName or a request body can never become markup. Only other `HTML` values (and the literals written in our
/// own source) are inserted as they are.
///
///     let row: HTML = "<td>\(tenant.name)</td>"          // escaped
///     let page: HTML = "<tbody>\(rows)</tbody>"           // `rows: HTML` inserted as markup
public struct HTML: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public private(set) var rendered: String

    public init(stringLiteral value: String) { rendered = value }

    public init(stringInterpolation: Interpolation) { rendered = stringInterpolation.output }

    /// Markup we wrote ourselves (a constant or a value already escaped). Never pass user data here.
    public init(trusted: String) { rendered = trusted }

    /// Escaped text.
    public init(text: String) { rendered = HTML.escape(text) }

    public static let empty: HTML = ""

    public var description: String { rendered }

    public struct Interpolation: StringInterpolationProtocol {
        var output = ""
        public init(literalCapacity: Int, interpolationCount: Int) { output.reserveCapacity(literalCapacity * 2) }
        public mutating func appendLiteral(_ literal: String) { output += literal }
        /// Text: escaped.
        public mutating func appendInterpolation(_ text: String) { output += HTML.escape(text) }
        public mutating func appendInterpolation(_ text: Substring) { output += HTML.escape(String(text)) }
        public mutating func appendInterpolation(_ value: Int) { output += String(value) }
        public mutating func appendInterpolation(_ value: Int64) { output += String(value) }
        /// Optional text: escaped; nil renders as `fallback`.
        public mutating func appendInterpolation(_ text: String?, default fallback: String) { output += HTML.escape(text ?? fallback) }
        /// Markup.
        public mutating func appendInterpolation(_ html: HTML) { output += html.rendered }
        public mutating func appendInterpolation(_ list: [HTML]) { for h in list { output += h.rendered } }
    }

    /// Escapes the five characters that matter in element content and in quoted attribute values.
    public static func escape(_ s: String) -> String {
        var needs = false
        for b in s.utf8 where b == 0x26 || b == 0x3C || b == 0x3E || b == 0x22 || b == 0x27 {
            needs = true
            break
        }
        if !needs { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    public static func + (lhs: HTML, rhs: HTML) -> HTML { HTML(trusted: lhs.rendered + rhs.rendered) }

    /// Joins fragments.
    public static func join(_ parts: [HTML], separator: HTML = .empty) -> HTML {
        HTML(trusted: parts.map(\.rendered).joined(separator: separator.rendered))
    }
}
