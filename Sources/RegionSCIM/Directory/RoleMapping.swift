package import JSON
package import SCIMCore

/// A tenant's app roles and the rules that give them from IdP groups, validated and compiled. Pure: the region
/// evaluates it for every user whose groups changed, and the recompute job for every user.
///
/// ```json
/// {"roles": [{"key": "admin", "name": "Administrator", "implies": ["editor"]},
///            {"key": "editor", "implies": ["viewer"]},
///            {"key": "viewer"}],
///  "rules": [{"group": {"displayName": "App Admins"}, "role": "admin"},
///            {"group": {"displayName": "eng-"}, "match": "prefix", "role": "editor"},
///            {"group": {"externalId": "00g1abcd"}, "role": "viewer"},
///            {"group": {"id": "0190…"}, "role": "editor"}],
///  "assignment": "highest",
///  "defaultRole": "viewer"}
/// ```
/// - **Precedence** is the order of `roles`, highest first. A user's *matched* roles are those of every rule that
///   picks one of the groups the user is a direct member of. With `assignment: "highest"` (the default) the user gets
///   the single highest matched role; with `"all"`, every matched role.
/// - **`implies`** adds roles: the effective roles are the chosen ones plus everything they imply, transitively,
///   listed in precedence order. A cycle is refused.
/// - **No matching group**: the user gets `defaultRole` (and what it implies); `null` means no roles, i.e. no access.
package struct RoleMapping: Sendable, Equatable {
    /// One of the app's roles.
    package struct Role: Sendable, Hashable {
        /// The identifier the app sees (letters, digits, `_ . : -`; 1-64 bytes).
        package var key: String
        /// A label for people.
        package var name: String
        /// Roles this one includes.
        package var implies: [String]
    }

    /// How many matched roles a user gets.
    package enum Assignment: String, Sendable, Hashable, CaseIterable {
        /// The highest-precedence matched role (and what it implies).
        case highest
        /// Every matched role (and what they imply).
        case all
    }

    package let roles: [Role]
    package let rules: [RoleRule]
    package let assignment: Assignment
    package let defaultRole: String?

    /// Per role (by index): itself and everything it implies, as sorted indices.
    let closure: [[Int]]
    let defaultIndex: Int?
    /// Exact rules by attribute and compared value → role indices.
    let exact: [RoleRule.Attribute: [String: [Int]]]
    /// Prefix rules with the role index they give.
    /// Prefix rules with their compared value folded once (`RoleRule.key`).
    let prefixes: [(attribute: RoleRule.Attribute, key: String, role: Int)]

    /// Limits (a request beyond them is refused with 400 and changes nothing).
    package static let maxRoles = 100
    package static let maxRules = 1000
    package static let maxImplies = 20
    package static let maxValueBytes = 256

    package static func == (a: RoleMapping, b: RoleMapping) -> Bool {
        a.roles == b.roles && a.rules == b.rules && a.assignment == b.assignment && a.defaultRole == b.defaultRole
    }

    /// Validates and compiles a configuration; the error names the offending field.
    package static func parse(_ body: JSONValue) throws(SCIMError) -> RoleMapping {
        guard case .object(let o) = body else { throw .invalidSyntax("the role configuration must be a JSON object") }
        for key in o.keys where !["roles", "rules", "assignment", "defaultRole"].contains(key) {
            throw .invalidValue("'\(key.prefix(64))' is not a field of the role configuration (roles, rules, assignment, defaultRole)")
        }
        guard case .array(let roleList)? = o["roles"] else { throw .invalidValue("'roles' must be an array of roles") }
        guard (1...maxRoles).contains(roleList.count) else {
            throw .invalidValue("'roles' must list 1 to \(maxRoles) roles (it has \(roleList.count))")
        }
        var roles: [Role] = []
        var index: [String: Int] = [:]
        for (i, entry) in roleList.enumerated() {
            let field = "roles[\(i)]"
            guard case .object(let r) = entry else { throw .invalidValue("'\(field)' must be an object with a 'key'") }
            for key in r.keys where !["key", "name", "implies"].contains(key) {
                throw .invalidValue("'\(field).\(key.prefix(64))' is not a field of a role (key, name, implies)")
            }
            guard case .string(let key)? = r["key"], isRoleKey(key) else {
                throw .invalidValue("'\(field).key' must be 1-64 letters, digits or _ . : -, starting with a letter or digit")
            }
            guard index[key] == nil else { throw .invalidValue("'\(field).key': role '\(key)' is listed twice") }
            var name = key
            if let n = r["name"], !n.isNull {
                guard let s = n.string, !s.isEmpty, s.utf8.count <= 200 else {
                    throw .invalidValue("'\(field).name' must be a string of 1 to 200 bytes")
                }
                name = s
            }
            var implies: [String] = []
            if let v = r["implies"], !v.isNull {
                guard let list = v.array, list.count <= maxImplies, list.allSatisfy({ $0.string != nil }) else {
                    throw .invalidValue("'\(field).implies' must be an array of at most \(maxImplies) role keys")
                }
                implies = list.compactMap(\.string)
            }
            index[key] = roles.count
            roles.append(Role(key: key, name: name, implies: implies))
        }
        for (i, role) in roles.enumerated() {
            for (j, implied) in role.implies.enumerated() where index[implied] == nil {
                throw .invalidValue("'roles[\(i)].implies[\(j)]' names '\(implied.prefix(64))', which is not in 'roles'")
            }
        }
        if let cycle = findCycle(roles, index) {
            throw .invalidValue("'roles' implies a cycle: " + cycle.joined(separator: " → "))
        }

        var rules: [RoleRule] = []
        switch o["rules"] {
        case nil, .null?: break
        case .array(let list)?:
            guard list.count <= maxRules else {
                throw .invalidValue("'rules' has \(list.count) rules; at most \(maxRules) are allowed")
            }
            var seen: [RoleRule: Int] = [:]
            for (i, entry) in list.enumerated() {
                let rule = try parseRule(entry, field: "rules[\(i)]", roles: index)
                let normalised = RoleRule(attribute: rule.attribute, match: rule.match, value: rule.key, role: rule.role)
                if let first = seen[normalised] { throw .invalidValue("'rules[\(i)]' repeats rules[\(first)]") }
                seen[normalised] = i
                rules.append(rule)
            }
        default: throw .invalidValue("'rules' must be an array of rules")
        }

        var assignment = Assignment.highest
        if let a = o["assignment"], !a.isNull {
            guard let s = a.string, let parsed = Assignment(rawValue: s) else {
                throw .invalidValue("'assignment' must be 'highest' or 'all'")
            }
            assignment = parsed
        }
        var defaultRole: String? = nil
        if let d = o["defaultRole"], !d.isNull {
            guard let s = d.string else { throw .invalidValue("'defaultRole' must be a role key or null (no matching group: no access)") }
            guard index[s] != nil else { throw .invalidValue("'defaultRole' names '\(s.prefix(64))', which is not in 'roles'") }
            defaultRole = s
        }
        return RoleMapping(roles: roles, rules: rules, assignment: assignment, defaultRole: defaultRole, index: index)
    }

    static func parseRule(_ entry: JSONValue, field: String, roles: [String: Int]) throws(SCIMError) -> RoleRule {
        guard case .object(let r) = entry else { throw .invalidValue("'\(field)' must be an object with 'group' and 'role'") }
        for key in r.keys where !["group", "match", "role"].contains(key) {
            throw .invalidValue("'\(field).\(key.prefix(64))' is not a field of a rule (group, match, role)")
        }
        guard case .object(let g)? = r["group"], g.count == 1, let (name, value) = g.first,
              let attribute = RoleRule.Attribute(rawValue: name) else {
            throw .invalidValue("'\(field).group' must be an object with exactly one of 'id', 'externalId' or 'displayName'")
        }
        guard case .string(var text) = value, !text.isEmpty, text.utf8.count <= maxValueBytes else {
            throw .invalidValue("'\(field).group.\(name)' must be a string of 1 to \(maxValueBytes) bytes")
        }
        var match = RoleRule.Match.exact
        if let m = r["match"], !m.isNull {
            guard let s = m.string, let parsed = RoleRule.Match(rawValue: s) else {
                throw .invalidValue("'\(field).match' must be 'exact' or 'prefix'")
            }
            match = parsed
        }
        if attribute == .id {
            guard match == .exact else { throw .invalidValue("'\(field)': a group id can only be matched exactly") }
            guard let canonical = UUIDText.canonical(text) else {
                throw .invalidValue("'\(field).group.id' must be a group id (a UUID)")
            }
            text = canonical
        }
        guard case .string(let role)? = r["role"] else { throw .invalidValue("'\(field).role' must be a role key") }
        guard roles[role] != nil else { throw .invalidValue("'\(field).role' names '\(role.prefix(64))', which is not in 'roles'") }
        return RoleRule(attribute: attribute, match: match, value: text, role: role)
    }

    /// The first cycle in the `implies` graph, as role keys from a role back to itself.
    static func findCycle(_ roles: [Role], _ index: [String: Int]) -> [String]? {
        var state = [UInt8](repeating: 0, count: roles.count)  // 0 new, 1 on the path, 2 done
        var path: [Int] = []
        func visit(_ i: Int) -> [String]? {
            state[i] = 1
            path.append(i)
            for implied in roles[i].implies {
                guard let j = index[implied] else { continue }
                if state[j] == 1 {
                    let start = path.firstIndex(of: j) ?? 0
                    return (path[start...] + [j]).map { roles[$0].key }
                }
                if state[j] == 0, let cycle = visit(j) { return cycle }
            }
            path.removeLast()
            state[i] = 2
            return nil
        }
        for i in roles.indices where state[i] == 0 {
            if let cycle = visit(i) { return cycle }
        }
        return nil
    }

    init(roles: [Role], rules: [RoleRule], assignment: Assignment, defaultRole: String?, index: [String: Int]) {
        self.roles = roles
        self.rules = rules
        self.assignment = assignment
        self.defaultRole = defaultRole
        defaultIndex = defaultRole.flatMap { index[$0] }
        var closure: [[Int]] = []
        for i in roles.indices {
            var reached: Set<Int> = [i]
            var stack = [i]
            while let r = stack.popLast() {
                for implied in roles[r].implies {
                    if let j = index[implied], reached.insert(j).inserted { stack.append(j) }
                }
            }
            closure.append(reached.sorted())
        }
        self.closure = closure
        var exact: [RoleRule.Attribute: [String: [Int]]] = [:]
        var prefixes: [(attribute: RoleRule.Attribute, key: String, role: Int)] = []
        for rule in rules {
            guard let role = index[rule.role] else { continue }
            switch rule.match {
            case .exact: exact[rule.attribute, default: [:]][rule.key, default: []].append(role)
            case .prefix: prefixes.append((rule.attribute, rule.key, role))
            }
        }
        self.exact = exact
        self.prefixes = prefixes
    }

    /// Whether any rule can give a role (when none can, and no default role, every user has no access).
    package var isEmpty: Bool { rules.isEmpty && defaultRole == nil }

    /// The role indices the rules give a member of `group` (sorted; empty when no rule picks it).
    package func grants(_ group: GroupIdentity) -> [Int] {
        if rules.isEmpty { return [] }
        var out: Set<Int> = []
        if let byID = exact[.id]?[group.id] { out.formUnion(byID) }
        if let e = group.externalId, let byExternal = exact[.externalId]?[e] { out.formUnion(byExternal) }
        // The group's displayName folded once for every displayName rule (rules were folded when compiled).
        let name = CaseFold.fold(group.displayName)
        if let names = exact[.displayName], let byName = names[name] { out.formUnion(byName) }
        for p in prefixes where !out.contains(p.role) {
            let have: String?
            switch p.attribute {
            case .id: have = group.id
            case .externalId: have = group.externalId
            case .displayName: have = name
            }
            if let have, have.hasPrefix(p.key) { out.insert(p.role) }
        }
        return out.sorted()
    }

    /// The effective role keys of a user whose groups give `matched` role indices, highest precedence first.
    package func effectiveRoles(matched: Set<Int>) -> [String] {
        var chosen = matched
        if chosen.isEmpty {
            guard let d = defaultIndex else { return [] }
            chosen = [d]
        }
        if assignment == .highest, let top = chosen.min() { chosen = [top] }
        var all: Set<Int> = []
        for c in chosen where c < closure.count { all.formUnion(closure[c]) }
        return all.sorted().map { roles[$0].key }
    }

    /// The effective role keys of a direct member of `groups`.
    package func effectiveRoles(groups: [GroupIdentity]) -> [String] {
        var matched: Set<Int> = []
        for g in groups { matched.formUnion(grants(g)) }
        return effectiveRoles(matched: matched)
    }

    /// Group ids named by `id` rules (they must exist when the configuration is saved).
    package var groupIDs: [String] { rules.filter { $0.attribute == .id }.map(\.value) }

    /// The configuration as stored and returned (normalised: defaults written out).
    package var json: JSONValue {
        var o = JSONObject()
        o.appendUnchecked(key: "roles", value: .array(roles.map { r in
            ["key": .string(r.key), "name": .string(r.name), "implies": .array(r.implies.map(JSONValue.string))]
        }))
        o.appendUnchecked(key: "rules", value: .array(rules.map(\.json)))
        o.appendUnchecked(key: "assignment", value: .string(assignment.rawValue))
        o.appendUnchecked(key: "defaultRole", value: defaultRole.map(JSONValue.string) ?? .null)
        return .object(o)
    }

    /// Role keys: letters, digits and `_ . : -`, starting with a letter or digit, 1-64 bytes (safe in URLs, logs
    /// and the app's own code).
    static func isRoleKey(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let first = u.first, u.count <= 64 else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
        guard alnum(first) else { return false }
        return u.allSatisfy { alnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "-") }
    }
}
