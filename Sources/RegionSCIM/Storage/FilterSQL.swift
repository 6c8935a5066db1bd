import JSON
import Postgres
import SCIMCore

/// Compiles resolved SCIM filters (and sort keys) to parameterised SQL over the region schema.
///
/// Semantics match SCIMCore's in-memory evaluator, which is what the region's parity tests check:
/// - a multi-valued attribute matches when ANY value matches (`EXISTS` over its elements or rows);
/// - `ne` is the negation of `eq`, `eq null` means "not present", `ne null` "present";
/// - comparisons on a missing value are false: SQL NULLs are folded to false under `NOT` (`NOT COALESCE(x, false)`),
///   which is the only place three-valued logic could leak;
/// - caseExact=false strings compare folded: Swift-folded `*_key` columns for indexed attributes, `lower()` on both
///   sides for document attributes; ordering comparisons use byte order (`COLLATE "C"`).
/// Every literal and every JSON key is a bound parameter; only fixed SQL and our own aliases are spliced.
package struct FilterSQL {
    let kind: ResourceKind
    /// The public SCIM base URL (for `meta.location` and `$ref` comparisons).
    let baseURL: String
    var bindings: SQLBindings
    private var aliasCount = 0

    init(kind: ResourceKind, tenant: String, baseURL: String) {
        self.kind = kind
        self.baseURL = baseURL
        self.bindings = SQLBindings(tenant: tenant)
    }

    private var root: String { kind.alias }

    private mutating func alias(_ prefix: String) -> String {
        aliasCount += 1
        return "\(prefix)\(aliasCount)"
    }

    /// Where a path is evaluated.
    enum Scope {
        /// The resource row.
        case root
        /// One element of a multi-valued attribute held in the document (a `jsonb` value).
        case element(String)
        /// One `group_members` row seen from its group (`members[…]`).
        case member(String)
        /// One `group_members` row joined with its group, seen from the member user (`groups[…]`).
        case userGroup(membership: String, group: String)
    }

    /// What a path compiles to.
    indirect enum Operand {
        /// A Swift-folded text column (`*_key`): literals are folded in Swift.
        case key(String)
        /// A text expression; case-insensitive ones are compared through `lower()` on both sides.
        case text(String, caseExact: Bool)
        case uuid(String)
        case boolean(String)
        case timestamp(String)
        /// A `jsonb` value of the given SCIM type.
        case json(String, AttributeType, caseExact: Bool)
        /// Any row of `from` (restricted by `join`, when given) whose `element` matches.
        case anyOf(from: String, join: String?, element: Operand)
        /// Never has a value (e.g. an attribute this storage does not keep).
        case absent
    }

    // MARK: Filters

    /// The SQL condition for `filter` on the resource row.
    mutating func condition(_ filter: ResolvedFilter) -> String {
        compile(filter, .root)
    }

    mutating func compile(_ filter: ResolvedFilter, _ scope: Scope) -> String {
        switch filter {
        case .and(let l, let r): return "(\(compile(l, scope)) AND \(compile(r, scope)))"
        case .or(let l, let r): return "(\(compile(l, scope)) OR \(compile(r, scope)))"
        case .not(let f): return "NOT COALESCE(\(compile(f, scope)), false)"
        case .present(let p): return present(operand(p, scope))
        case .compare(let p, let op, let v): return compare(operand(p, scope), op, v)
        case .valuePath(let p, let inner): return valuePath(p, inner, scope)
        }
    }

    mutating func present(_ operand: Operand) -> String {
        switch operand {
        case .key(let c): return "(\(c) <> '')"
        case .text(let e, _): return "(\(e) <> '')"
        case .uuid(let c), .boolean(let c), .timestamp(let c): return "(\(c) IS NOT NULL)"
        case .json(let e, _, _): return "scim_present(\(e))"
        case .anyOf(let from, let join, let element):
            return "EXISTS (SELECT 1 FROM \(from) WHERE \(join.map { $0 + " AND " } ?? "")\(present(element)))"
        case .absent: return "false"
        }
    }

    mutating func compare(_ operand: Operand, _ op: CompareOperator, _ literal: FilterValue) -> String {
        if case .null = literal {
            switch op {
            case .eq: return "NOT COALESCE(\(present(operand)), false)"
            case .ne: return present(operand)
            default: return "false"
            }
        }
        if op == .ne { return "NOT COALESCE(\(compare(operand, .eq, literal)), false)" }
        switch operand {
        case .anyOf(let from, let join, let element):
            return "EXISTS (SELECT 1 FROM \(from) WHERE \(join.map { $0 + " AND " } ?? "")\(compare(element, op, literal)))"
        case .key(let column):
            guard let s = Self.text(of: literal) else { return "false" }
            let p = bindings.text(CaseFold.fold(s))
            return Self.textComparison(column, op, p)
        case .text(let expression, let caseExact):
            guard let s = Self.text(of: literal) else { return "false" }
            if caseExact { return Self.textComparison(expression, op, bindings.text(s)) }
            return Self.textComparison("lower(\(expression))", op, "lower(\(bindings.text(s)))")
        case .uuid(let column):
            guard let s = Self.text(of: literal) else { return "false" }
            if op == .eq {
                // A value that is not a UUID can never equal a uuid column (and must not make the cast fail).
                guard let id = UUIDText.canonical(s) else { return "false" }
                return "\(column) = \(bindings.bind(.uuid(id)))"
            }
            return Self.textComparison("\(column)::text", op, bindings.text(s))
        case .boolean(let column):
            guard op == .eq, case .bool(let b) = literal else { return "false" }
            return "\(column) = \(b ? "true" : "false")"
        case .timestamp(let column):
            guard let instant = Self.instant(of: literal), let sqlOp = Self.orderingOperator(op) else { return "false" }
            return "\(column) \(sqlOp) \(bindings.bind(.timestamp(instant)))"
        case .json(let expression, let type, let caseExact):
            switch type {
            case .string, .reference, .binary:
                return compare(.text("(\(expression) #>> '{}')", caseExact: caseExact), op, literal)
            case .boolean:
                guard op == .eq, case .bool(let b) = literal else { return "false" }
                return "(\(expression) = '\(b ? "true" : "false")'::jsonb)"
            case .integer, .decimal:
                guard case .number(let n) = literal, let sqlOp = Self.orderingOperator(op) else { return "false" }
                return "scim_numeric(\(expression)) \(sqlOp) \(bindings.text(n.text))::numeric"
            case .dateTime:
                guard let instant = Self.instant(of: literal), let sqlOp = Self.orderingOperator(op) else { return "false" }
                return "scim_timestamptz(\(expression) #>> '{}') \(sqlOp) \(bindings.bind(.timestamp(instant)))"
            case .complex:
                return "false"
            }
        case .absent:
            return "false"
        }
    }

    /// `eq`, `gt`… as SQL (nil for the substring operators).
    static func orderingOperator(_ op: CompareOperator) -> String? {
        switch op {
        case .eq: "="
        case .ne: "<>"
        case .gt: ">"
        case .ge: ">="
        case .lt: "<"
        case .le: "<="
        case .co, .sw, .ew: nil
        }
    }

    /// Comparison of two text expressions with byte-order semantics. `^@` (starts_with) is leakproof, so unlike
    /// LIKE it can use a btree index under row-level security.
    static func textComparison(_ lhs: String, _ op: CompareOperator, _ rhs: String) -> String {
        switch op {
        case .eq: return "\(lhs) = \(rhs)"
        case .ne: return "\(lhs) <> \(rhs)"
        case .gt, .ge, .lt, .le: return "(\(lhs)) COLLATE \"C\" \(orderingOperator(op)!) \(rhs)"
        case .sw: return "\(lhs) ^@ \(rhs)"
        case .co: return "strpos(\(lhs), \(rhs)) > 0"
        case .ew: return "right(\(lhs), char_length(\(rhs))) = \(rhs)"
        }
    }

    static func text(of literal: FilterValue) -> String? {
        switch literal {
        case .string(let s): s
        case .number(let n): n.text
        case .bool(let b): b ? "true" : "false"
        case .null: nil
        }
    }

    static func instant(of literal: FilterValue) -> PostgresTimestamp? {
        guard case .string(let s) = literal, let t = SCIMDateTime(parsing: s) else { return nil }
        return PostgresTimestamp(secondsSinceEpoch: t.seconds, microseconds: Int64(t.nanoseconds / 1000))
    }

    // MARK: Paths

    mutating func operand(_ p: ResolvedPath, _ scope: Scope) -> Operand {
        switch scope {
        case .root: return rootOperand(p)
        case .element(let e):
            guard let sub = p.subAttribute else { return .json(e, p.attribute.type, caseExact: p.attribute.caseExact) }
            return .json("(\(e) -> \(bindings.text(sub.name)))", sub.type, caseExact: sub.caseExact)
        case .member(let m):
            return memberOperand(p.subAttribute?.name ?? "value", m)
        case .userGroup(let gm, let g):
            return userGroupOperand(p.subAttribute?.name ?? "value", gm, g)
        }
    }

    mutating func rootOperand(_ p: ResolvedPath) -> Operand {
        let r = root
        let name = p.attribute.name
        let sub = p.subAttribute?.name
        if case .core = p.container {
            switch (name, sub) {
            case ("id", nil): return .uuid("\(r).id")
            case ("externalId", nil): return .text("\(r).external_id", caseExact: true)
            case ("meta", "created"?): return .timestamp("\(r).created_at")
            case ("meta", "lastModified"?): return .timestamp("\(r).last_modified")
            case ("meta", "resourceType"?): return .text(bindings.text(kind.rawValue), caseExact: true)
            case ("meta", "location"?):
                return .text("(\(bindings.text(baseURL + kind.endpoint + "/")) || \(r).id::text)", caseExact: true)
            case ("meta", "version"?): return .text("('W/\"' || \(r).version::text || '\"')", caseExact: true)
            default: break
            }
            switch (kind, name, sub) {
            case (.user, "userName", nil): return .key("\(r).user_name_key")
            case (.user, "displayName", nil): return .key("\(r).display_name_key")
            case (.user, "active", nil): return .boolean("\(r).active")
            case (.user, "emails", "value"?):
                let e = alias("ue")
                return .anyOf(from: "user_emails \(e)", join: "\(e).tenant_id = \(r).tenant_id AND \(e).user_id = \(r).id",
                              element: .key("\(e).email_key"))
            case (.user, "groups", _):
                let gm = alias("gm"), g = alias("g")
                return .anyOf(from: Self.userGroupsFrom(gm, g), join: "\(gm).tenant_id = \(r).tenant_id AND \(gm).member_id = \(r).id",
                              element: userGroupOperand(sub ?? "value", gm, g))
            case (.group, "displayName", nil): return .key("\(r).display_name_key")
            case (.group, "members", _):
                let m = alias("m")
                return .anyOf(from: "group_members \(m)", join: "\(m).tenant_id = \(r).tenant_id AND \(m).group_id = \(r).id",
                              element: memberOperand(sub ?? "value", m))
            default: break
            }
        }
        return documentOperand(p)
    }

    /// A path into the stored document.
    mutating func documentOperand(_ p: ResolvedPath) -> Operand {
        let attribute = attributeExpression(p)
        if p.attribute.multiValued {
            let e = alias("e")
            let element: Operand
            if let sub = p.subAttribute {
                element = .json("(\(e) -> \(bindings.text(sub.name)))", sub.type, caseExact: sub.caseExact)
            } else {
                element = .json(e, p.attribute.type, caseExact: p.attribute.caseExact)
            }
            return .anyOf(from: "scim_elements(\(attribute)) AS \(e)", join: nil, element: element)
        }
        if let sub = p.subAttribute {
            return .json("(\(attribute) -> \(bindings.text(sub.name)))", sub.type, caseExact: sub.caseExact)
        }
        return .json(attribute, p.attribute.type, caseExact: p.attribute.caseExact)
    }

    /// `r.resource -> 'name'` or `r.resource -> 'urn:…' -> 'name'`, with the keys bound.
    mutating func attributeExpression(_ p: ResolvedPath) -> String {
        var e = "\(root).resource"
        if case .extension(let urn) = p.container { e = "(\(e) -> \(bindings.text(urn)))" }
        return "(\(e) -> \(bindings.text(p.attribute.name)))"
    }

    static func userGroupsFrom(_ gm: String, _ g: String) -> String {
        "group_members \(gm) JOIN groups \(g) ON \(g).tenant_id = \(gm).tenant_id AND \(g).id = \(gm).group_id"
    }

    mutating func memberOperand(_ sub: String, _ m: String) -> Operand {
        switch sub {
        case "value": return .uuid("\(m).member_id")
        case "type": return .text("\(m).member_type", caseExact: false)
        case "display": return .text(Self.memberDisplay(m), caseExact: false)
        case "$ref": return .text(memberReference(m), caseExact: true)
        default: return .absent
        }
    }

    mutating func userGroupOperand(_ sub: String, _ gm: String, _ g: String) -> Operand {
        switch sub {
        case "value": return .uuid("\(gm).group_id")
        case "display": return .text("\(g).display_name", caseExact: false)
        case "type": return .text("'direct'", caseExact: false)
        case "$ref": return .text("(\(bindings.text(baseURL + "/Groups/")) || \(gm).group_id::text)", caseExact: true)
        default: return .absent
        }
    }

    /// The display of a member row: what the client sent, else the member's current name.
    package static func memberDisplay(_ m: String) -> String {
        "coalesce(\(m).display, CASE \(m).member_type"
            + " WHEN 'User' THEN (SELECT coalesce(mu.display_name, mu.user_name) FROM users mu"
            + " WHERE mu.tenant_id = \(m).tenant_id AND mu.id = \(m).member_id)"
            + " ELSE (SELECT mg.display_name FROM groups mg WHERE mg.tenant_id = \(m).tenant_id AND mg.id = \(m).member_id) END)"
    }

    mutating func memberReference(_ m: String) -> String {
        "(\(bindings.text(baseURL)) || CASE \(m).member_type WHEN 'User' THEN '/Users/' ELSE '/Groups/' END || \(m).member_id::text)"
    }

    mutating func valuePath(_ p: ResolvedPath, _ inner: ResolvedFilter, _ scope: Scope) -> String {
        guard case .root = scope else { return "false" }  // value filters do not nest (the parser refuses them)
        let r = root
        if case .core = p.container {
            switch (kind, p.attribute.name) {
            case (.group, "members"):
                let m = alias("m")
                return "EXISTS (SELECT 1 FROM group_members \(m) WHERE \(m).tenant_id = \(r).tenant_id"
                    + " AND \(m).group_id = \(r).id AND \(compile(inner, .member(m))))"
            case (.user, "groups"):
                let gm = alias("gm"), g = alias("g")
                return "EXISTS (SELECT 1 FROM \(Self.userGroupsFrom(gm, g)) WHERE \(gm).tenant_id = \(r).tenant_id"
                    + " AND \(gm).member_id = \(r).id AND \(compile(inner, .userGroup(membership: gm, group: g))))"
            default: break
            }
        }
        // Entra's `emails[type eq "work" and value eq "x"]`: an indexed pre-check on the value narrows the scan to
        // the users holding that address before the per-element check runs.
        var prefilter = ""
        if kind == .user, case .core = p.container, p.attribute.name == "emails",
           let value = Self.equalityConjunct(inner, subAttribute: "value") {
            let ue = alias("ue")
            let emails = Operand.anyOf(from: "user_emails \(ue)", join: "\(ue).tenant_id = \(r).tenant_id AND \(ue).user_id = \(r).id",
                                       element: .key("\(ue).email_key"))
            prefilter = compare(emails, .eq, .string(value)) + " AND "
        }
        let e = alias("e")
        let attribute = attributeExpression(p)
        return "(\(prefilter)EXISTS (SELECT 1 FROM scim_elements(\(attribute)) AS \(e) WHERE \(compile(inner, .element(e)))))"
    }

    /// The string of a top-level `sub eq "…"` conjunct of `filter`, if there is one.
    static func equalityConjunct(_ filter: ResolvedFilter, subAttribute: String) -> String? {
        switch filter {
        case .compare(let p, .eq, .string(let s)) where p.subAttribute?.name == subAttribute: return s
        case .and(let l, let r): return equalityConjunct(l, subAttribute: subAttribute) ?? equalityConjunct(r, subAttribute: subAttribute)
        default: return nil
        }
    }

    // MARK: Sorting

    /// How a sort key is typed in SQL (for the keyset condition of a cursor).
    enum SortKeyType: String, Sendable {
        case text, uuid, boolean, numeric, timestamptz
    }

    /// The ORDER BY expression for `sortBy`, or nil when the attribute cannot order resources (row-backed members).
    mutating func sortKey(_ p: ResolvedPath) -> (expression: String, type: SortKeyType)? {
        let r = root
        let name = p.attribute.name, sub = p.subAttribute?.name
        if case .core = p.container {
            switch (name, sub) {
            case ("id", nil): return ("\(r).id", .uuid)
            case ("externalId", nil): return ("\(r).external_id", .text)
            case ("meta", "created"?): return ("\(r).created_at", .timestamptz)
            case ("meta", "lastModified"?): return ("\(r).last_modified", .timestamptz)
            case ("meta", _): return ("\(r).id", .uuid)
            default: break
            }
            switch (kind, name, sub) {
            case (.user, "userName", nil), (.user, "displayName", nil), (.group, "displayName", nil):
                return ("\(r).\(name == "userName" ? "user_name_key" : "display_name_key")", .text)
            case (.user, "active", nil): return ("\(r).active", .boolean)
            case (.user, "groups", _), (.group, "members", _): return nil
            default: break
            }
        }
        let attribute = attributeExpression(p)
        let value: String
        let target = p.subAttribute ?? p.attribute
        if p.attribute.multiValued {
            value = p.subAttribute == nil ? "(\(attribute) -> 0)" : "scim_sort_value(\(attribute), \(bindings.text(sub!)))"
        } else if let sub {
            value = "(\(attribute) -> \(bindings.text(sub)))"
        } else {
            value = attribute
        }
        switch target.type {
        case .string, .reference, .binary, .complex:
            return (target.caseExact ? "((\(value) #>> '{}') COLLATE \"C\")" : "(lower(\(value) #>> '{}') COLLATE \"C\")", .text)
        case .boolean: return ("scim_boolean(\(value))", .boolean)
        case .integer, .decimal: return ("scim_numeric(\(value))", .numeric)
        case .dateTime: return ("scim_timestamptz(\(value) #>> '{}')", .timestamptz)
        }
    }
}
