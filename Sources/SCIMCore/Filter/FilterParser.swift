public import JSON

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
            else if limits.allowUnquotedValues {  // IdPQuirk.unquotedFilterValue: Entra legacy unquoted values [docs/idp-behaviour.md#entra-overview]
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
