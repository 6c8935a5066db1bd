import HTTPCore
package import JSON
import Postgres
import SCIMCore
package import RegionSCIM

/// The internal API for the operator's app, relayed by the gateway's admin API: the pull events API, webhook
/// configuration, and a plain-JSON read API over the tenant's current users and groups (so the app never has to
/// speak SCIM to read its own directory). Every answer is tenant-scoped like SCIM requests are.
///
///     GET    /internal/v1/tenants/{id}/events?after=<cursor>|now&limit=1..1000
///     GET    /internal/v1/tenants/{id}/users?after=<cursor>&limit=1..1000
///     GET    /internal/v1/tenants/{id}/users/{user}
///     GET    /internal/v1/tenants/{id}/groups?after=<cursor>&limit=1..1000
///     GET    /internal/v1/tenants/{id}/groups/{group}/members?after=<cursor>&limit=1..1000
///     PUT    /internal/v1/tenants/{id}/webhook
///     GET    /internal/v1/tenants/{id}/webhook
///     DELETE /internal/v1/tenants/{id}/webhook
///     POST   /internal/v1/tenants/{id}/webhook/redeliver
package final class EventsAPI: Sendable {
    let database: RegionDatabase
    package let webhooks: WebhookEndpoints

    /// The API over `database`; `keys` seal webhook secrets, `allowInsecureHTTP` permits plain-http endpoints.
    package init(database: RegionDatabase, keys: WebhookKeys, allowInsecureHTTP: Bool = false) {
        self.database = database
        webhooks = WebhookEndpoints(database: database, keys: keys, allowInsecureHTTP: allowInsecureHTTP)
    }

    static let defaultLimit = 100
    static let maxLimit = 1000

    /// `limit` and `after` from a query string (other parameters are ignored).
    static func paging(_ query: String?) throws(SCIMError) -> (after: String?, limit: Int) {
        var after: String? = nil
        var limit = defaultLimit
        for (name, value) in QueryString.decode(query ?? "") {
            switch name {
            case "after": after = value.isEmpty ? nil : value
            case "limit":
                guard let n = Int(value), (1...maxLimit).contains(n) else {
                    throw .invalidValue("limit must be an integer from 1 to \(maxLimit)")
                }
                limit = n
            default: continue
            }
        }
        return (after, limit)
    }

    // MARK: Events

    /// A page of the tenant's events, oldest first: `{"events": [...], "next": <cursor>, "hasMore": bool}`.
    /// Keep `next` and pass it as `after` to resume; it advances even when nothing new arrived.
    package func events(scope: RequestScope, query: String?) throws -> JSONValue {
        let (afterText, limit) = try Self.paging(query)
        let tenant = scope.tenant
        var after = EventCursor(position: .start, snapshot: nil)
        var fromNow = false
        if let afterText {
            if afterText == "now" {
                fromNow = true
            } else {
                // A position, or the cursor a reconciliation snapshot handed out (`EventCursor`).
                guard let cursor = EventCursor(text: afterText) else {
                    throw SCIMError(status: 400, scimType: .invalidCursor, detail: "'after' is not an event cursor")
                }
                after = cursor
            }
        }
        return try database.read(tenant: tenant, { _ in
            fromNow ? [.prepared(EventFeed.horizon)] : [EventFeed.pageStatement(tenant: tenant, after: after, limit: limit)]
        }, decode: { context, results in
            let page: EventPage
            if fromNow {
                // Nothing before the horizon: start the reader there (its next page holds only new events).
                let horizon = results[0].string(row: 0, column: 0).flatMap { UInt64($0) } ?? 0
                page = EventPage(events: [], next: EventPosition(xid: horizon, seq: 0), hasMore: false)
            } else {
                page = try EventFeed.decodePage(results[0], after: after.position, limit: limit)
            }
            let events = try page.events.map { try EventFeed.render($0, tenant: tenant, context: context, baseURL: scope.baseURL) }
            let next = EventCursor(position: page.next, snapshot: after.snapshot)
            return ["events": .array(events), "next": .string(next.text), "hasMore": .bool(page.hasMore)]
        })
    }

    // MARK: Read API

    static let usersPage = PreparedStatement(
        "SELECT \(ResourceStore.columns(.user, withRelated: true)), \(DirectoryRecord.userColumns) FROM users u"
            + " WHERE u.tenant_id = $1 AND u.deleted_at IS NULL AND u.id > $2::uuid ORDER BY u.id LIMIT $3")
    static let oneUser = PreparedStatement(
        "SELECT \(ResourceStore.columns(.user, withRelated: true)), \(DirectoryRecord.userColumns) FROM users u"
            + " WHERE u.tenant_id = $1 AND u.deleted_at IS NULL AND u.id = $2::uuid")
    static let groupsPage = PreparedStatement(
        "SELECT \(ResourceStore.columns(.group, withRelated: false)) FROM groups g"
            + " WHERE g.tenant_id = $1 AND g.id > $2::uuid ORDER BY g.id LIMIT $3")
    /// Members by id (the primary key's order: a page is an index range however large the group is).
    static let membersPage = PreparedStatement(
        "SELECT m.member_id::text, m.member_type, \(FilterSQL.memberDisplay("m")) FROM group_members m"
            + " WHERE m.tenant_id = $1 AND m.group_id = $2::uuid AND m.member_id > $3::uuid ORDER BY m.member_id LIMIT $4")
    static let groupName = PreparedStatement("SELECT display_name FROM groups WHERE tenant_id = $1 AND id = $2::uuid")

    static let beforeAll = "00000000-0000-0000-0000-000000000000"

    /// A read cursor is the last id of the previous page.
    static func afterID(_ text: String?) throws(SCIMError) -> String {
        guard let text else { return beforeAll }
        guard let id = UUIDText.canonical(text) else {
            throw SCIMError(status: 400, scimType: .invalidCursor, detail: "'after' is not a cursor of this listing")
        }
        return id
    }

    /// Live users by id, as SCIM representations with their `groups`, plus (not SCIM) the user's `effectiveRoles`
    /// and mapped `profile` (`DirectoryRecord`): `{"users": [...], "next": <cursor>|null}` (null on the last page).
    package func users(scope: RequestScope, query: String?) throws -> JSONValue {
        try resources(.user, scope: scope, query: query)
    }

    /// Groups by id, without members (page those with `members`): `{"groups": [...], "next": <cursor>|null}`.
    package func groups(scope: RequestScope, query: String?) throws -> JSONValue {
        try resources(.group, scope: scope, query: query)
    }

    func resources(_ kind: ResourceKind, scope: RequestScope, query: String?) throws -> JSONValue {
        let (afterText, limit) = try Self.paging(query)
        let after = try Self.afterID(afterText)
        return try database.read(tenant: scope.tenant, { _ in
            [.prepared(kind == .user ? Self.usersPage : Self.groupsPage, [.uuid(scope.tenant), .text(after), .int(Int64(limit))])]
        }, decode: { context, results in
            let result = results[0]
            let schema = SCIMService.schema(kind, context)
            let projection = kind == .user ? context.defaultUserProjection : context.defaultGroupProjection
            var items: [JSONValue] = []
            items.reserveCapacity(result.rowCount)
            var last: String? = nil
            for row in 0..<result.rowCount {
                let stored = try ResourceStore.decode(kind, result, row: row, baseURL: scope.baseURL, relatedLoaded: kind == .user)
                var item = projection.apply(to: Representation.render(stored, kind, schema, plan: context.renderPlan(kind),
                                                                      baseURL: scope.baseURL))
                if kind == .user { DirectoryRecord.addDerived(&item, result, row: row, column: 6) }
                items.append(.object(item))
                last = stored.id
            }
            let next: JSONValue = result.rowCount == limit ? last.map { .string($0) } ?? .null : .null
            return [kind == .user ? "users" : "groups": .array(items), "next": next]
        })
    }

    /// One live user as the users listing shows it (with `effectiveRoles` and `profile`); 404 when there is none.
    package func user(scope: RequestScope, id: String) throws -> JSONValue {
        guard let id = UUIDText.canonical(id) else { throw SCIMError.resourceNotFound(.user, id) }
        return try database.read(tenant: scope.tenant, { _ in
            [.prepared(Self.oneUser, [.uuid(scope.tenant), .text(id)])]
        }, decode: { context, results in
            let result = results[0]
            guard result.rowCount == 1 else { throw SCIMError.resourceNotFound(.user, id) }
            let stored = try ResourceStore.decode(.user, result, row: 0, baseURL: scope.baseURL, relatedLoaded: true)
            var item = context.defaultUserProjection.apply(to: Representation.render(stored, .user, context.users,
                                                                                     plan: context.renderPlan(.user), baseURL: scope.baseURL))
            DirectoryRecord.addDerived(&item, result, row: 0, column: 6)
            return .object(item)
        })
    }

    /// A group's members by id: `{"group": {"id", "displayName"}, "members": [{"value", "type", "display"}], "next"}`.
    package func members(scope: RequestScope, group: String, query: String?) throws -> JSONValue {
        guard let group = UUIDText.canonical(group) else { throw SCIMError.resourceNotFound(.group, group) }
        let (afterText, limit) = try Self.paging(query)
        let after = try Self.afterID(afterText)
        return try database.read(tenant: scope.tenant, { _ in
            [.prepared(Self.groupName, [.uuid(scope.tenant), .text(group)]),
             .prepared(Self.membersPage, [.uuid(scope.tenant), .text(group), .text(after), .int(Int64(limit))])]
        }, decode: { _, results in
            guard results[0].rowCount == 1, let name = results[0].string(row: 0, column: 0) else {
                throw SCIMError.resourceNotFound(.group, group)
            }
            let rows = results[1]
            var members: [JSONValue] = []
            for row in 0..<rows.rowCount {
                guard let id = rows.string(row: row, column: 0), let type = rows.string(row: row, column: 1) else { continue }
                var m: JSONObject = ["value": .string(id), "type": .string(type)]
                if let display = rows.string(row: row, column: 2) { m.appendUnchecked(key: "display", value: .string(display)) }
                members.append(.object(m))
            }
            let next: JSONValue = rows.rowCount == limit ? rows.string(row: rows.rowCount - 1, column: 0).map { .string($0) } ?? .null : .null
            return ["group": ["id": .string(group), "displayName": .string(name)], "members": .array(members), "next": next]
        })
    }
}
