public import JSON

// In-memory filter evaluation (RFC 7644 §3.4.2.2), honouring caseExact and attribute types.
//
// Semantics chosen where the RFC is silent (a SQL compiler should match them):
// - A multi-valued attribute matches when ANY of its values matches.
// - `ne` is the negation of `eq` (so a missing attribute is `ne` anything); `eq null` means "not present".
// - `gt`/`ge`/`lt`/`le` and `co`/`sw`/`ew` on a missing attribute are false.
// - Case-insensitive comparisons fold case (ASCII fast path, Unicode lowercasing otherwise) and order by UTF-8 bytes.

extension ResolvedFilter {
    /// Whether a resource document matches.
    public func matches(_ resource: JSONObject) -> Bool {
        switch self {
        case .compare(let p, let op, let v):
            return Self.compare(values: Self.values(of: p, in: resource), op, v, p.target)
        case .present(let p):
            return Self.values(of: p, in: resource).contains(where: Self.isPresent)
        case .and(let l, let r): return l.matches(resource) && r.matches(resource)
        case .or(let l, let r): return l.matches(resource) || r.matches(resource)
        case .not(let f): return !f.matches(resource)
        case .valuePath(let p, let inner):
            guard let v = Self.container(p.container, of: resource)?[caseInsensitive: p.attribute.name] else { return false }
            switch v {
            case .array(let elements): return elements.contains { inner.matchesElement($0) }
            case .object: return inner.matchesElement(v)
            default: return false
            }
        }
    }

    /// Whether one element of a complex (multi-valued) attribute matches a value filter's inner filter.
    public func matchesElement(_ element: JSONValue) -> Bool {
        switch self {
        case .compare(let p, let op, let v):
            let value = p.subAttribute.flatMap { element[caseInsensitive: $0.name] }
            return Self.compare(values: Self.flatten(value), op, v, p.target)
        case .present(let p):
            let value = p.subAttribute.flatMap { element[caseInsensitive: $0.name] }
            return Self.flatten(value).contains(where: Self.isPresent)
        case .and(let l, let r): return l.matchesElement(element) && r.matchesElement(element)
        case .or(let l, let r): return l.matchesElement(element) || r.matchesElement(element)
        case .not(let f): return !f.matchesElement(element)
        case .valuePath: return false  // never produced inside a value filter
        }
    }

    static func container(_ c: AttributeContainer, of resource: JSONObject) -> JSONObject? {
        switch c {
        case .core: return resource
        case .extension(let urn): return resource[caseInsensitive: urn]?.object
        }
    }

    static func flatten(_ v: JSONValue?) -> [JSONValue] {
        switch v {
        case nil, .null?: return []
        case .array(let a)?: return a.filter { !$0.isNull }
        case let x?: return [x]
        }
    }

    /// All values at a path: multi-valued attributes and sub-attributes of multi-valued complex attributes flatten.
    static func values(of p: ResolvedPath, in resource: JSONObject) -> [JSONValue] {
        guard let top = container(p.container, of: resource)?[caseInsensitive: p.attribute.name] else { return [] }
        guard let sub = p.subAttribute else { return flatten(top) }
        switch top {
        case .array(let elements):
            var r: [JSONValue] = []
            for e in elements { r.append(contentsOf: flatten(e[caseInsensitive: sub.name])) }
            return r
        case .object(let o): return flatten(o[caseInsensitive: sub.name])
        default: return []
        }
    }

    static func isPresent(_ v: JSONValue) -> Bool {
        switch v {
        case .null: return false
        case .string(let s): return !s.isEmpty
        case .array(let a): return a.contains(where: isPresent)
        case .object(let o): return o.values.contains(where: isPresent)
        case .bool, .number: return true
        }
    }

    static func compare(values: [JSONValue], _ op: CompareOperator, _ literal: FilterValue, _ def: AttributeDefinition) -> Bool {
        if case .null = literal {
            let present = values.contains(where: isPresent)
            switch op {
            case .eq: return !present
            case .ne: return present
            default: return false
            }
        }
        if op == .ne { return !values.contains { compareOne($0, .eq, literal, def) } }
        return values.contains { compareOne($0, op, literal, def) }
    }

    static func ordered(_ c: Int, _ op: CompareOperator) -> Bool {
        switch op {
        case .eq: return c == 0
        case .ne: return c != 0
        case .gt: return c > 0
        case .ge: return c >= 0
        case .lt: return c < 0
        case .le: return c <= 0
        case .co, .sw, .ew: return false
        }
    }

    static func compareOne(_ value: JSONValue, _ op: CompareOperator, _ literal: FilterValue, _ def: AttributeDefinition) -> Bool {
        switch def.type {
        case .boolean:
            guard case .bool(let want) = literal else { return false }
            let have: Bool?
            switch value {
            case .bool(let b): have = b
            case .string(let s): have = IdPDialect.booleanFromString(s)
            default: have = nil
            }
            guard let h = have else { return false }
            return op == .eq ? h == want : (op == .ne ? h != want : false)
        case .integer, .decimal:
            guard case .number(let want) = literal, case .number(let have) = value else { return false }
            return ordered(have.compare(want), op)
        case .dateTime:
            guard case .string(let want) = literal, case .string(let have) = value else { return false }
            if let a = SCIMDateTime(parsing: have), let b = SCIMDateTime(parsing: want) {
                return ordered(a < b ? -1 : (a == b ? 0 : 1), op)
            }
            return compareStrings(have, want, op, caseExact: def.caseExact)
        case .string, .reference, .binary, .complex:
            let want: String
            switch literal {
            case .string(let s): want = s
            case .number(let n): want = n.text
            case .bool(let b): want = b ? "true" : "false"
            case .null: return false
            }
            guard case .string(let have) = value else { return false }
            return compareStrings(have, want, op, caseExact: def.caseExact)
        }
    }

    static func compareStrings(_ a: String, _ b: String, _ op: CompareOperator, caseExact: Bool) -> Bool {
        let x = caseExact ? a : CaseFold.fold(a)
        let y = caseExact ? b : CaseFold.fold(b)
        // Byte comparison, not Swift's canonical-equivalence `==`, so results match a SQL byte/C-collation compare.
        switch op {
        case .eq: return x.utf8.elementsEqual(y.utf8)
        case .ne: return !x.utf8.elementsEqual(y.utf8)
        case .co: return y.isEmpty || x.utf8.firstRange(of: y.utf8) != nil
        case .sw: return x.utf8.starts(with: y.utf8)
        case .ew: return x.utf8.count >= y.utf8.count && x.utf8.suffix(y.utf8.count).elementsEqual(y.utf8)
        case .gt, .ge, .lt, .le:
            let c = x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : (x.utf8.elementsEqual(y.utf8) ? 0 : 1)
            return ordered(c, op)
        }
    }
}
