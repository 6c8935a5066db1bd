public import JSON

/// What a consumer of the directory builds (README, "for the SaaS app developer"): a reconciliation snapshot's pages,
/// then the events after its cursor, applied in feed order. Used by the tests to check that snapshot + events equals
/// the region's state, row by row.
///
/// Rules a consumer follows (and this one does): keep the highest `meta.version` of a user and the highest
/// `version` of a user's roles (concurrent writers may commit in another order than the feed lists them); a
/// group's `meta.version` and `lastModified` also move with membership-only changes, which the feed reports as
/// member events, so they are not kept.
public struct DirectoryReplica: Sendable, Equatable {
    /// SCIM representations of live users (without `effectiveRoles`, `rolesVersion`, `profile`).
    public var users: [String: JSONObject] = [:]
    /// Effective roles and their version, per user (missing: none, version 0).
    public var roles: [String: Role] = [:]
    /// Mapped profiles (missing: null).
    public var profiles: [String: JSONValue] = [:]
    /// SCIM representations of groups without `meta.version`/`meta.lastModified`.
    public var groups: [String: JSONObject] = [:]
    /// "group member type" lines.
    public var memberships: Set<String> = []

    public struct Role: Sendable, Equatable {
        public var version: Int64
        public var roles: [String]

        public init(version: Int64, roles: [String]) {
            self.version = version
            self.roles = roles
        }
    }

    public init() {}

    /// Adds one page of a snapshot.
    public mutating func load(page: JSONValue) {
        for item in page["users"]?.array ?? [] {
            guard var user = item.object, let id = user["id"]?.string else { continue }
            let roleList = (user["effectiveRoles"]?.array ?? []).compactMap(\.string)
            let version = user["rolesVersion"]?.int64 ?? 0
            if version > 0 || !roleList.isEmpty { roles[id] = Role(version: version, roles: roleList) }
            if let p = user["profile"], !p.isNull { profiles[id] = p }
            for key in ["effectiveRoles", "rolesVersion", "profile"] {
                if let i = user.index(forKey: key) { user.remove(at: i) }
            }
            users[id] = user
        }
        for item in page["groups"]?.array ?? [] {
            guard let group = item.object, let id = group["id"]?.string else { continue }
            groups[id] = Self.stripped(group)
        }
        for m in page["memberships"]?.array ?? [] {
            guard let g = m["group"]?.string, let member = m["member"]?.string, let type = m["type"]?.string else { continue }
            memberships.insert("\(g) \(member) \(type)")
        }
    }

    /// Applies one event; returns false for a type it does not know.
    @discardableResult
    public mutating func apply(event: JSONValue) -> Bool {
        guard let type = event["type"]?.string, let data = event["data"] else { return false }
        switch type {
        case "user.created", "user.updated", "user.deactivated", "user.reactivated":
            guard let user = data["user"]?.object, let id = user["id"]?.string else { return false }
            if Self.version(user) >= (users[id].map(Self.version) ?? 0) {
                users[id] = user
                if let p = data["profile"] { profiles[id] = Self.nonNull(p) }
            }
        case "user.deleted":
            guard let id = data["user"]?["id"]?.string else { return false }
            users[id] = nil
            roles[id] = nil
            profiles[id] = nil
        case "user.roles_changed":
            guard let id = data["user"]?["id"]?.string, let version = data["version"]?.int64 else { return false }
            if version > (roles[id]?.version ?? 0) {
                roles[id] = Role(version: version, roles: (data["after"]?.array ?? []).compactMap(\.string))
            }
        case "user.profile_changed":
            guard let id = data["user"]?["id"]?.string else { return false }
            profiles[id] = data["after"].flatMap(Self.nonNull)
        case "group.created", "group.updated":
            guard let group = data["group"]?.object, let id = group["id"]?.string else { return false }
            groups[id] = Self.stripped(group)
        case "group.deleted":
            guard let id = data["group"]?["id"]?.string else { return false }
            groups[id] = nil
            memberships = memberships.filter { !$0.hasPrefix(id + " ") }
        case "group.member_added", "group.member_removed":
            guard let id = data["group"]?["id"]?.string else { return false }
            for m in data["members"]?.array ?? [] {
                guard let member = m["value"]?.string, let kind = m["type"]?.string else { continue }
                if type == "group.member_added" {
                    memberships.insert("\(id) \(member) \(kind)")
                } else {
                    memberships.remove("\(id) \(member) \(kind)")
                }
            }
        default:
            return false
        }
        return true
    }

    /// Row-by-row differences from `other` (empty when equal), for a readable failure.
    public func differences(from other: DirectoryReplica) -> [String] {
        var out: [String] = []
        for id in Set(users.keys).union(other.users.keys).sorted() where users[id] != other.users[id] {
            out.append("user \(id): \(users[id].map { JSONValue.object($0).description } ?? "absent") vs "
                       + "\(other.users[id].map { JSONValue.object($0).description } ?? "absent")")
        }
        for id in Set(roles.keys).union(other.roles.keys).sorted() where roles[id] != other.roles[id] {
            out.append("roles of \(id): \(roles[id].map { "\($0.roles) v\($0.version)" } ?? "none") vs "
                       + "\(other.roles[id].map { "\($0.roles) v\($0.version)" } ?? "none")")
        }
        for id in Set(profiles.keys).union(other.profiles.keys).sorted() where !Self.sameJSON(profiles[id], other.profiles[id]) {
            out.append("profile of \(id): \(profiles[id]?.description ?? "null") vs \(other.profiles[id]?.description ?? "null")")
        }
        for id in Set(groups.keys).union(other.groups.keys).sorted() where groups[id] != other.groups[id] {
            out.append("group \(id): \(groups[id].map { JSONValue.object($0).description } ?? "absent") vs "
                       + "\(other.groups[id].map { JSONValue.object($0).description } ?? "absent")")
        }
        for m in memberships.symmetricDifference(other.memberships).sorted() {
            out.append("membership \(m): \(memberships.contains(m) ? "only here" : "only there")")
        }
        return out
    }

    public static func == (a: DirectoryReplica, b: DirectoryReplica) -> Bool { a.differences(from: b).isEmpty }

    /// The value, or nil for JSON null (spelled out: `isNull ? nil : value` would make that nil a JSON null, since
    /// JSONValue is ExpressibleByNilLiteral).
    static func nonNull(_ value: JSONValue) -> JSONValue? {
        if value.isNull { return Optional<JSONValue>.none }
        return value
    }

    /// The number in `meta.version` (`W/"7"` → 7).
    static func version(_ resource: JSONObject) -> Int64 {
        let text = resource["meta"]?["version"]?.string ?? ""
        return Int64(text.filter(\.isNumber)) ?? 0
    }

    static func stripped(_ group: JSONObject) -> JSONObject {
        var g = group
        if var meta = g["meta"]?.object, let i = g.index(forKey: "meta") {
            for key in ["version", "lastModified"] { if let j = meta.index(forKey: key) { meta.remove(at: j) } }
            g.setValue(.object(meta), at: i)
        }
        return g
    }

    /// JSON equality ignoring the order of object members (the database keeps none for stored JSON).
    public static func sameJSON(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (.object(let x)?, .object(let y)?):
            guard x.count == y.count else { return false }
            return x.allSatisfy { sameJSON($0.value, y[$0.key]) }
        case (.array(let x)?, .array(let y)?):
            return x.count == y.count && zip(x, y).allSatisfy { sameJSON($0, $1) }
        default: return a == b
        }
    }
}
