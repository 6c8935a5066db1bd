import JSON

extension ResourceSchema {
    /// Resolves a top-level attribute path (URN-qualified or not). Unqualified names fall back to extension attributes
    /// when the core schema has no such attribute (Entra filters on `manager` unqualified [docs/idp-behaviour.md#entra-overview]).
    func resolveTarget(_ path: AttributePath) throws(PathProblem) -> PathTarget {
        var container = AttributeContainer.core
        var schemaURN = core.id
        var attribute: AttributeDefinition? = nil
        if let urn = path.schemaURN {
            if asciiCaseInsensitiveEquals(urn, core.id) {
                attribute = coreAttribute(named: path.name)
            } else if let ext = extensionSchema(urn: urn) {
                container = .extension(ext.id)
                schemaURN = ext.id
                attribute = ext.attribute(named: path.name)
            } else if path.subAttribute == nil, let ext = extensionSchema(urn: urn + ":" + path.name) {
                return .extensionObject(ext)
            } else {
                throw .unknownSchema
            }
        } else if let a = coreAttribute(named: path.name) {
            attribute = a
        } else {
            for e in extensions {
                if let a = e.schema.attribute(named: path.name) {
                    attribute = a
                    container = .extension(e.schema.id)
                    schemaURN = e.schema.id
                    break
                }
            }
        }
        guard let attr = attribute else { throw .unknownAttribute }
        var sub: AttributeDefinition? = nil
        if let subName = path.subAttribute {
            guard attr.type == .complex else { throw .notComplex }
            guard let s = attr.subAttribute(named: subName) else { throw .unknownSubAttribute }
            sub = s
        }
        return .attribute(ResolvedPath(container: container, schemaURN: schemaURN, attribute: attr, subAttribute: sub))
    }

    /// Resolves a sub-attribute name inside a value filter of `parent`.
    func resolveInner(_ path: AttributePath, parent: ResolvedPath) throws(PathProblem) -> ResolvedPath {
        guard path.schemaURN == nil, path.subAttribute == nil else { throw .unknownSubAttribute }
        guard let s = parent.attribute.subAttribute(named: path.name) else { throw .unknownSubAttribute }
        return ResolvedPath(container: parent.container, schemaURN: parent.schemaURN, attribute: parent.attribute, subAttribute: s)
    }
}

extension ResourceSchema {
    /// Resolves a parsed filter; unknown attributes and type-incompatible comparisons give `400 invalidFilter`.
    public func resolve(_ filter: Filter) throws(SCIMError) -> ResolvedFilter {
        try resolve(filter, parent: nil)
    }

    /// Parses and resolves filter text in one step.
    public func parseFilter(_ text: String, limits: FilterLimits = .default) throws(SCIMError) -> ResolvedFilter {
        try resolve(FilterParser.parse(text, limits: limits))
    }

    /// Parses and resolves filter text, adding the IdP quirks it needed to `quirks`.
    public func parseFilter(_ text: String, limits: FilterLimits = .default, quirks: inout QuirkSet) throws(SCIMError)
        -> ResolvedFilter
    {
        try resolve(FilterParser.parse(text, limits: limits, quirks: &quirks))
    }

    /// Resolves a `sortBy` value like a filter path (RFC 7644 §3.4.2.3).
    public func resolveSortBy(_ text: String) throws(SCIMError) -> ResolvedPath {
        guard let p = AttributePath(parsing: Substring(text)) else {
            throw .invalidValue("sortBy '\(text.prefix(60))' is not an attribute path")
        }
        do {
            return try resolveComparable(p)
        } catch {
            throw .invalidValue("sortBy: " + error.detail(p.description))
        }
    }

    /// A comparable path: complex attributes without a sub-attribute compare their `value` sub-attribute.
    func resolveComparable(_ p: AttributePath) throws(PathProblem) -> ResolvedPath {
        switch try resolveTarget(p) {
        case .extensionObject: throw .unknownAttribute
        case .attribute(let r):
            if r.target.type == .complex {
                guard let v = r.attribute.subAttribute(named: "value") else { throw .complexNeedsSubAttribute }
                return ResolvedPath(container: r.container, schemaURN: r.schemaURN, attribute: r.attribute, subAttribute: v)
            }
            return r
        }
    }

    func resolve(_ filter: Filter, parent: ResolvedPath?) throws(SCIMError) -> ResolvedFilter {
        func path(_ p: AttributePath, comparable: Bool = true) throws(SCIMError) -> ResolvedPath {
            do throws(PathProblem) {
                if let parent { return try resolveInner(p, parent: parent) }
                if comparable { return try resolveComparable(p) }
                guard case .attribute(let r) = try resolveTarget(p) else { throw PathProblem.unknownAttribute }
                return r
            } catch {
                throw .invalidFilter(error.detail(p.description))
            }
        }
        switch filter {
        case .compare(let p, let op, let v):
            let r = try path(p)
            try Self.checkComparable(r, op, v)
            return .compare(r, op, Self.coerceLiteral(v, for: r.target))
        case .present(let p):
            // `pr` applies to complex attributes as a whole (RFC 7644 §3.4.2.2: "a non-empty node").
            return .present(try path(p, comparable: false))
        case .and(let l, let r):
            return .and(try resolve(l, parent: parent), try resolve(r, parent: parent))
        case .or(let l, let r):
            return .or(try resolve(l, parent: parent), try resolve(r, parent: parent))
        case .not(let f):
            return .not(try resolve(f, parent: parent))
        case .valuePath(let p, let inner):
            let target: PathTarget
            do { target = try resolveTarget(p) } catch { throw .invalidFilter(error.detail(p.description)) }
            guard case .attribute(let r) = target, r.subAttribute == nil, r.attribute.type == .complex else {
                throw .invalidFilter("'\(p.description.prefix(120))' cannot take a value filter: it is not a complex attribute")
            }
            return .valuePath(r, try resolve(inner, parent: r))
        }
    }

    /// RFC 7644 §3.4.2.2: `gt`/`ge`/`lt`/`le` on boolean or binary fail; substring operators need strings.
    static func checkComparable(_ r: ResolvedPath, _ op: CompareOperator, _ v: FilterValue) throws(SCIMError) {
        let t = r.target.type
        switch op {
        case .gt, .ge, .lt, .le:
            if t == .boolean || t == .binary || t == .complex {
                throw .invalidFilter("'\(op.rawValue)' cannot be used with \(t.rawValue) attribute '\(r)'")
            }
            if case .null = v { throw .invalidFilter("'\(op.rawValue)' cannot compare with null") }
        case .co, .sw, .ew:
            if !(t == .string || t == .reference || t == .binary) {
                throw .invalidFilter("'\(op.rawValue)' needs a string attribute; '\(r)' is \(t.rawValue)")
            }
            if case .null = v { throw .invalidFilter("'\(op.rawValue)' cannot compare with null") }
        case .eq, .ne:
            break
        }
        switch (t, v) {
        case (_, .null): return
        case (.boolean, .bool): return
        case (.boolean, .string(let s)) where IdPDialect.booleanFromString(s) != nil: return
        case (.integer, .number(let n)):
            if !n.isIntegerLiteral { throw .invalidFilter("'\(r)' is an integer; \(n.text) is not") }
        case (.decimal, .number): return
        case (.dateTime, .string(let s)):
            if SCIMDateTime(parsing: s) == nil { throw .invalidFilter("'\(r)' is a dateTime; the value is not an xsd:dateTime") }
        case (.string, _), (.reference, _), (.binary, _): return
        default:
            throw .invalidFilter("the value compared with '\(r)' does not match its type \(t.rawValue)")
        }
    }

    /// Literal normalisation: string booleans become booleans; numbers compared with strings become their text.
    static func coerceLiteral(_ v: FilterValue, for def: AttributeDefinition) -> FilterValue {
        switch (def.type, v) {
        case (.boolean, .string(let s)): return IdPDialect.booleanFromString(s).map(FilterValue.bool) ?? v
        case (.string, .number(let n)), (.reference, .number(let n)): return .string(n.text)
        case (.string, .bool(let b)), (.reference, .bool(let b)): return .string(b ? "true" : "false")
        default: return v
        }
    }
}
