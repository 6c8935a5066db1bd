public import JSON

// RFC 7644 §3.4.2.2 filter grammar:
//   FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//   valuePath = attrPath "[" valFilter "]"
//   attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//   attrPath  = [URI ":"] ATTRNAME *1subAttr
// Precedence: not > and > or; operators, keywords and attribute names are case-insensitive.

/// An attribute path as written: optional schema URN, attribute name, optional sub-attribute.
public struct AttributePath: Sendable, Hashable, CustomStringConvertible {
    /// The schema URN prefix, if the path was URN-qualified.
    public var schemaURN: String?
    /// The attribute name as written.
    public var name: String
    /// The sub-attribute name as written.
    public var subAttribute: String?

    /// Creates a path.
    public init(schemaURN: String? = nil, name: String, subAttribute: String? = nil) {
        self.schemaURN = schemaURN
        self.name = name
        self.subAttribute = subAttribute
    }

    public var description: String {
        var s = ""
        if let u = schemaURN { s += u + ":" }
        s += name
        if let sub = subAttribute { s += "." + sub }
        return s
    }

    /// Parses `[URI ":"] ATTRNAME ["." ATTRNAME]`; nil if malformed.
    public init?(parsing text: Substring) {
        var rest = text
        var urn: String? = nil
        if let colon = text.lastIndex(of: ":") {
            urn = String(text[..<colon])
            rest = text[text.index(after: colon)...]
            guard let u = urn, !u.isEmpty else { return nil }
        }
        let parts = rest.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count <= 2, AttributePath.isAttributeName(parts[0]) else { return nil }
        if parts.count == 2 { guard AttributePath.isAttributeName(parts[1]) else { return nil } }
        self.schemaURN = urn
        self.name = String(parts[0])
        self.subAttribute = parts.count == 2 ? String(parts[1]) : nil
    }

    /// `ATTRNAME = ALPHA *(ALPHA / DIGIT / "-" / "_")`, plus `$ref`.
    static func isAttributeName(_ s: Substring) -> Bool {
        let u = s.utf8
        guard let first = u.first else { return false }
        if first == UInt8(ascii: "$") { return asciiCaseInsensitiveEquals(String(s), "$ref") }
        func alpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
        guard alpha(first) else { return false }
        for c in u.dropFirst() where !(alpha(c) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")) {
            return false
        }
        return true
    }
}

/// Comparison operators (RFC 7644 Table 3).
public enum CompareOperator: String, Sendable, Hashable, CaseIterable {
    case eq, ne, co, sw, ew, gt, ge, lt, le
}

/// A literal in a comparison. Dates are string literals, compared as instants when the attribute is a dateTime.
public enum FilterValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case number(JSONNumber)
    case bool(Bool)
    case null

    public var description: String {
        switch self {
        case .string(let s): return JSONValue.string(s).description
        case .number(let n): return n.text
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }
}

/// A parsed filter (unresolved: names as written).
public indirect enum Filter: Sendable, Hashable, CustomStringConvertible {
    case compare(AttributePath, CompareOperator, FilterValue)
    case present(AttributePath)
    case and(Filter, Filter)
    case or(Filter, Filter)
    case not(Filter)
    /// `attr[filter]`: some value of the multi-valued attribute matches the inner filter (inner paths are sub-attributes).
    case valuePath(AttributePath, Filter)

    var precedence: Int {
        switch self {
        case .or: return 1
        case .and: return 2
        case .compare, .present, .not, .valuePath: return 3
        }
    }

    /// Canonical text: lowercase operators, minimal parentheses that keep the tree shape.
    public var description: String {
        func wrap(_ f: Filter, _ minPrecedence: Int) -> String {
            f.precedence < minPrecedence ? "(\(f.description))" : f.description
        }
        switch self {
        case .compare(let p, let op, let v): return "\(p) \(op.rawValue) \(v)"
        case .present(let p): return "\(p) pr"
        case .and(let l, let r): return "\(wrap(l, 2)) and \(wrap(r, 3))"
        case .or(let l, let r): return "\(wrap(l, 1)) or \(wrap(r, 2))"
        case .not(let f): return "not (\(f.description))"
        case .valuePath(let p, let f): return "\(p)[\(f.description)]"
        }
    }
}

/// Limits on filter text and structure; breaching one gives `400 invalidFilter` naming the limit.
public struct FilterLimits: Sendable, Hashable {
    /// Maximum filter length in bytes.
    public var maxLength: Int
    /// Maximum number of AST nodes.
    public var maxNodes: Int
    /// Maximum nesting depth (parentheses, `not`, value paths).
    public var maxDepth: Int
    /// Accept unquoted string values (`externalId eq jyoung`): Entra's legacy documentation example [E1].
    public var allowUnquotedValues: Bool

    /// Creates limits.
    public init(maxLength: Int = 4096, maxNodes: Int = 200, maxDepth: Int = 16, allowUnquotedValues: Bool = true) {
        self.maxLength = maxLength
        self.maxNodes = maxNodes
        self.maxDepth = maxDepth
        self.allowUnquotedValues = allowUnquotedValues
    }

    /// Default limits.
    public static let `default` = FilterLimits()
}

// MARK: - Lexer

enum FilterToken: Equatable {
    case lparen, rparen, lbracket, rbracket
    case string(String)
    case word(Substring)
    case end
}

struct FilterLexer {
    let text: String
    let bytes: [UInt8]
    var pos = 0

    init(_ text: String) {
        self.text = text
        self.bytes = Array(text.utf8)
    }

    static func isDelimiter(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == UInt8(ascii: "(") || c == UInt8(ascii: ")")
            || c == UInt8(ascii: "[") || c == UInt8(ascii: "]") || c == UInt8(ascii: "\"")
    }

    /// Returns the next token and its byte offset.
    mutating func next() throws(SCIMError) -> (FilterToken, Int) {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x09 || bytes[pos] == 0x0A || bytes[pos] == 0x0D { pos += 1 }
        guard pos < bytes.count else { return (.end, pos) }
        let start = pos
        switch bytes[pos] {
        case UInt8(ascii: "("): pos += 1; return (.lparen, start)
        case UInt8(ascii: ")"): pos += 1; return (.rparen, start)
        case UInt8(ascii: "["): pos += 1; return (.lbracket, start)
        case UInt8(ascii: "]"): pos += 1; return (.rbracket, start)
        case UInt8(ascii: "\""):
            pos += 1
            while pos < bytes.count, bytes[pos] != UInt8(ascii: "\"") {
                pos += bytes[pos] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard pos < bytes.count else { throw .invalidFilter("unterminated string starting at position \(start)") }
            pos += 1
            if !bytes[(start + 1)..<(pos - 1)].contains(where: { $0 == UInt8(ascii: "\\") || $0 < 0x20 }) {
                // No escapes or control characters: the bytes came from a Swift String, so they are valid UTF-8.
                return (.string(String(decoding: bytes[(start + 1)..<(pos - 1)], as: UTF8.self)), start)
            }
            // The string literal uses JSON string syntax (RFC 7644 §3.4.2.2), so the JSON decoder unescapes it.
            let decoded: JSONValue
            do {
                decoded = try JSONDecoder.decode(Array(bytes[start..<pos]))
            } catch {
                throw .invalidFilter("invalid string literal at position \(start)")
            }
            return (.string(decoded.string ?? ""), start)
        default:
            while pos < bytes.count, !FilterLexer.isDelimiter(bytes[pos]) {
                // Control characters are never part of a name, operator or (unquoted) value.
                if bytes[pos] < 0x20 || bytes[pos] == 0x7F { throw .invalidFilter("control character at position \(pos)") }
                pos += 1
            }
            let lo = text.utf8.index(text.utf8.startIndex, offsetBy: start)
            let hi = text.utf8.index(lo, offsetBy: pos - start)
            return (.word(text[lo..<hi]), start)
        }
    }
}

// MARK: - Parser

/// Parses filter text into a `Filter` (RFC 7644 §3.4.2.2).
public struct FilterParser {
    var lexer: FilterLexer
    let limits: FilterLimits
    var current: FilterToken = .end
    var currentOffset = 0
    var nodes = 0
    var depth = 0
    /// IdP quirks the text needed (unquoted values).
    var quirks = QuirkSet()

    /// Parses a complete filter.
    public static func parse(_ text: String, limits: FilterLimits = .default) throws(SCIMError) -> Filter {
        var ignored = QuirkSet()
        return try parse(text, limits: limits, quirks: &ignored)
    }

    /// Parses a complete filter, adding the IdP quirks it needed to `quirks`.
    public static func parse(_ text: String, limits: FilterLimits = .default, quirks: inout QuirkSet) throws(SCIMError) -> Filter {
        guard text.utf8.count <= limits.maxLength else {
            throw .invalidFilter("filter is longer than \(limits.maxLength) characters")
        }
        var p = FilterParser(lexer: FilterLexer(text), limits: limits)
        try p.advance()
        if p.current == .end { throw .invalidFilter("filter is empty") }
        let f = try p.parseOr(inValuePath: false)
        guard p.current == .end else { throw p.unexpected() }
        quirks.formUnion(p.quirks)
        return f
    }

    /// Parses a PATCH path: `attrPath`, `attrPath[valFilter]`, `attrPath[valFilter].subAttr`, or a schema URN.
    public static func parsePatchPath(_ text: String, limits: FilterLimits = .default) throws(SCIMError) -> PatchPath {
        var ignored = QuirkSet()
        return try parsePatchPath(text, limits: limits, quirks: &ignored)
    }

    /// Parses a PATCH path, adding the IdP quirks it needed to `quirks`.
    public static func parsePatchPath(_ text: String, limits: FilterLimits = .default, quirks: inout QuirkSet)
        throws(SCIMError) -> PatchPath
    {
        guard text.utf8.count <= limits.maxLength else { throw .invalidPath("path is longer than \(limits.maxLength) characters") }
        var p = FilterParser(lexer: FilterLexer(text), limits: limits)
        do throws(SCIMError) {
            try p.advance()
            guard case .word(let w) = p.current else { throw SCIMError.invalidPath("path must start with an attribute name") }
            guard let attr = AttributePath(parsing: w) else { throw SCIMError.invalidPath("'\(w)' is not a valid attribute path") }
            try p.advance()
            if p.current == .end { return PatchPath(attribute: attr) }
            guard p.current == .lbracket, attr.subAttribute == nil else {
                throw SCIMError.invalidPath("unexpected text after the attribute path at position \(p.currentOffset)")
            }
            try p.advance()
            p.depth = 1
            let inner = try p.parseOr(inValuePath: true)
            guard p.current == .rbracket else { throw p.unexpected(expected: "']'") }
            // A sub-attribute may follow the closing bracket directly: `emails[type eq "work"].value`.
            var sub: String? = nil
            let after = p.lexer.pos
            try p.advance()
            if case .word(let w2) = p.current, p.currentOffset == after, w2.hasPrefix(".") {
                let name = w2.dropFirst()
                guard AttributePath.isAttributeName(name) else { throw SCIMError.invalidPath("invalid sub-attribute after ']'") }
                sub = String(name)
                try p.advance()
            }
            guard p.current == .end else { throw SCIMError.invalidPath("unexpected text after the value filter at position \(p.currentOffset)") }
            quirks.formUnion(p.quirks)
            return PatchPath(attribute: attr, filter: inner, subAttribute: sub)
        } catch {
            if error.scimType == .invalidFilter { throw .invalidPath(error.detail ?? "invalid path") }
            throw error
        }
    }

    mutating func advance() throws(SCIMError) {
        (current, currentOffset) = try lexer.next()
    }

    func unexpected(expected: String? = nil) -> SCIMError {
        let what: String
        switch current {
        case .end: what = "end of filter"
        case .lparen: what = "'('"
        case .rparen: what = "')'"
        case .lbracket: what = "'['"
        case .rbracket: what = "']'"
        case .string: what = "a string"
        case .word: what = "'\(wordText ?? "")'"
        }
        if let e = expected { return .invalidFilter("expected \(e) but found \(what) at position \(currentOffset)") }
        return .invalidFilter("unexpected \(what) at position \(currentOffset)")
    }

    var wordText: Substring? { if case .word(let w) = current { return w.prefix(40) } else { return nil } }

    func isKeyword(_ k: StaticString) -> Bool {
        guard case .word(let w) = current, w.utf8.count == k.utf8CodeUnitCount else { return false }
        let p = k.utf8Start
        var i = 0
        for c in w.utf8 {
            if c | 0x20 != p[i] { return false }
            i += 1
        }
        return true
    }

    mutating func node() throws(SCIMError) {
        nodes += 1
        if nodes > limits.maxNodes { throw .invalidFilter("filter has more than \(limits.maxNodes) nodes") }
    }

    mutating func enter() throws(SCIMError) {
        depth += 1
        if depth > limits.maxDepth { throw .invalidFilter("filter nests deeper than \(limits.maxDepth) levels") }
    }

    mutating func parseOr(inValuePath: Bool) throws(SCIMError) -> Filter {
        var left = try parseAnd(inValuePath: inValuePath)
        while isKeyword("or") {
            try advance()
            let right = try parseAnd(inValuePath: inValuePath)
            try node()
            left = .or(left, right)
        }
        return left
    }

    mutating func parseAnd(inValuePath: Bool) throws(SCIMError) -> Filter {
        var left = try parseFactor(inValuePath: inValuePath)
        while isKeyword("and") {
            try advance()
            let right = try parseFactor(inValuePath: inValuePath)
            try node()
            left = .and(left, right)
        }
        return left
    }

    mutating func parseFactor(inValuePath: Bool) throws(SCIMError) -> Filter {
        switch current {
        case .lparen:
            try enter()
            try advance()
            let f = try parseOr(inValuePath: inValuePath)
            guard current == .rparen else { throw unexpected(expected: "')'") }
            try advance()
            depth -= 1
            return f
        case .word(let w):
            if isKeyword("not") {
                try advance()
                guard current == .lparen else { throw unexpected(expected: "'(' after 'not'") }
                try enter()
                try advance()
                let f = try parseOr(inValuePath: inValuePath)
                guard current == .rparen else { throw unexpected(expected: "')'") }
                try advance()
                depth -= 1
                try node()
                return .not(f)
            }
            return try parseAttributeExpression(w, inValuePath: inValuePath)
        case .end:
            throw unexpected(expected: "an attribute expression")
        case .rparen, .lbracket, .rbracket, .string:
            throw unexpected()
        }
    }

    mutating func parseAttributeExpression(_ w: Substring, inValuePath: Bool) throws(SCIMError) -> Filter {
        let pathOffset = currentOffset
        guard let path = AttributePath(parsing: w) else {
            throw .invalidFilter("'\(w.prefix(40))' at position \(pathOffset) is not a valid attribute path")
        }
        try advance()
        if current == .lbracket {
            guard !inValuePath else { throw .invalidFilter("value filters cannot be nested (position \(currentOffset))") }
            guard path.subAttribute == nil else {
                throw .invalidFilter("a value filter must follow an attribute, not a sub-attribute (position \(currentOffset))")
            }
            try enter()
            try advance()
            let inner = try parseOr(inValuePath: true)
            guard current == .rbracket else { throw unexpected(expected: "']'") }
            let after = lexer.pos
            try advance()
            depth -= 1
            try node()
            // Entra documents `emails[type eq "work"].value eq "x"`: same element must satisfy both parts.
            if case .word(let w2) = current, currentOffset == after, w2.hasPrefix(".") {
                let name = w2.dropFirst()
                guard AttributePath.isAttributeName(name) else {
                    throw .invalidFilter("invalid sub-attribute after ']' at position \(currentOffset)")
                }
                let subPath = AttributePath(name: String(name))
                try advance()
                let tail = try parseOperatorAndValue(subPath)
                try node()
                return .valuePath(path, .and(inner, tail))
            }
            return .valuePath(path, inner)
        }
        return try parseOperatorAndValue(path)
    }

    mutating func parseOperatorAndValue(_ path: AttributePath) throws(SCIMError) -> Filter {
        guard case .word(let opWord) = current else {
            throw unexpected(expected: "an operator after '\(path.description.prefix(60))'")
        }
        let opText = String(opWord).lowercased()
        try node()
        if opText == "pr" {
            try advance()
            return .present(path)
        }
        guard let op = CompareOperator(rawValue: opText) else {
            throw .invalidFilter("unknown operator '\(opWord.prefix(20))' at position \(currentOffset)")
        }
        try advance()
        let value: FilterValue
        switch current {
        case .string(let s):
            value = .string(s)
        case .word(let v):
            let s = String(v)
            if s == "true" || s == "True" || s == "TRUE" { value = .bool(true) }
            else if s == "false" || s == "False" || s == "FALSE" { value = .bool(false) }
            else if s == "null" || s == "Null" || s == "NULL" { value = .null }
            else if let n = JSONNumber(text: s) { value = .number(n) }
            else if limits.allowUnquotedValues {  // IdPQuirk.unquotedFilterValue: Entra legacy unquoted values [E1]
                value = .string(s)
                quirks.insert(.unquotedFilterValue)
            }
            else { throw .invalidFilter("value at position \(currentOffset) must be a quoted string, number, true, false or null") }
        case .end:
            throw .invalidFilter("missing value after '\(op.rawValue)' at position \(currentOffset)")
        case .lparen, .rparen, .lbracket, .rbracket:
            throw unexpected(expected: "a value")
        }
        try advance()
        return .compare(path, op, value)
    }
}

/// A PATCH `path` as written: attribute path, optional value filter, optional sub-attribute after the filter.
public struct PatchPath: Sendable, Hashable, CustomStringConvertible {
    /// The attribute (possibly URN-qualified, possibly with a sub-attribute when there is no filter).
    public var attribute: AttributePath
    /// The value filter in brackets.
    public var filter: Filter?
    /// The sub-attribute after the brackets.
    public var subAttribute: String?

    /// Creates a path.
    public init(attribute: AttributePath, filter: Filter? = nil, subAttribute: String? = nil) {
        self.attribute = attribute
        self.filter = filter
        self.subAttribute = subAttribute
    }

    public var description: String {
        var s = attribute.description
        if let f = filter { s += "[\(f)]" }
        if let sub = subAttribute { s += "." + sub }
        return s
    }
}
