import Crypto
import JSON
import Postgres
import SCIMCore
import RegionSCIM

/// Reading the outbox and rendering events for the pull API and webhooks.
enum EventFeed {
    /// Visible events after a position: only transactions below the snapshot's xmin, which have all finished.
    /// One statement; the LEFT JOIN yields one row of NULLs when there is nothing, so the horizon is always read.
    static let page = PreparedStatement(
        """
        WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon)
        SELECT e.xid::text, e.seq, e.type, e.resource_id::text, e.occurred_at, e.data::text, h.horizon::text
        FROM h LEFT JOIN LATERAL (
            SELECT xid, seq, type, resource_id, occurred_at, data FROM events
            WHERE tenant_id = $1 AND (xid, seq) > ($2::xid8, $3) AND xid < h.horizon
            ORDER BY xid, seq LIMIT $4) e ON true
        """)

    /// The statement for a page of at most `limit` events after `after`.
    static func pageStatement(tenant: String, after: EventPosition, limit: Int) -> PostgresStatement {
        // One more than asked: tells whether another page is already visible.
        .prepared(page, [.uuid(tenant), .text(after.xidText), .int(after.seq), .int(Int64(limit + 1))])
    }

    /// `page`, skipping the transactions a reconciliation snapshot already saw (`EventCursor`).
    static let snapshotPage = PreparedStatement(
        """
        WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon)
        SELECT e.xid::text, e.seq, e.type, e.resource_id::text, e.occurred_at, e.data::text, h.horizon::text
        FROM h LEFT JOIN LATERAL (
            SELECT xid, seq, type, resource_id, occurred_at, data FROM events
            WHERE tenant_id = $1 AND (xid, seq) > ($2::xid8, $3) AND xid < h.horizon
              AND NOT pg_visible_in_snapshot(xid, $5::pg_snapshot)
            ORDER BY xid, seq LIMIT $4) e ON true
        """)

    /// The statement for a page after `cursor` (with its snapshot's transactions skipped, if it has one).
    static func pageStatement(tenant: String, after cursor: EventCursor, limit: Int) -> PostgresStatement {
        guard let snapshot = cursor.snapshot else { return pageStatement(tenant: tenant, after: cursor.position, limit: limit) }
        return .prepared(snapshotPage, [.uuid(tenant), .text(cursor.position.xidText), .int(cursor.position.seq),
                                        .int(Int64(limit + 1)), .text(snapshot.text)])
    }

    /// Decodes `pageStatement`'s result.
    static func decodePage(_ result: PostgresResult, after: EventPosition, limit: Int) throws -> EventPage {
        var events: [StoredEvent] = []
        var horizon: UInt64 = 0
        for row in 0..<result.rowCount {
            if let h = result.string(row: row, column: 6).flatMap({ UInt64($0) }) { horizon = h }
            if result.isNull(row: row, column: 0) { continue }
            guard let xid = result.string(row: row, column: 0).flatMap({ UInt64($0) }), let seq = result.int(row: row, column: 1),
                  let type = result.string(row: row, column: 2), let resource = result.string(row: row, column: 3),
                  let at = result.timestamp(row: row, column: 4), let data = result.withBytes(row: row, column: 5, { Array($0) }) else {
                throw SCIMError(status: 500, detail: "a stored event is unreadable")
            }
            events.append(StoredEvent(position: EventPosition(xid: xid, seq: seq), type: type, resourceID: resource,
                                      occurredAt: at, data: data))
        }
        let hasMore = events.count > limit
        if hasMore { events.removeLast(events.count - limit) }
        let next: EventPosition
        if hasMore, let last = events.last {
            next = last.position
        } else {
            // Everything visible was returned: continue from the horizon (never behind where the reader was).
            next = max(events.last?.position ?? after, after, EventPosition(xid: horizon, seq: 0))
        }
        return EventPage(events: events, next: next, hasMore: hasMore)
    }

    /// The position a new reader starts from when it asks for events "from now on".
    static let horizon = PreparedStatement("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")

    // MARK: Rendering

    /// An event as delivered and pulled:
    /// `{"id", "type", "occurredAt", "tenantId", "sequence", "idempotencyKey", "data": {"user": {…}} | {"group": {…}}
    /// | {"group": {…}, "members": […]} | {"user": {…}, "before": …, "after": …}}`.
    /// Resource events carry the resource as a GET would return it then (without the row-backed `groups`/`members`),
    /// projected by the tenant's schema (attributes returned "never" stay out), and a user's mapped `profile` when the
    /// tenant maps one; deletions carry the id and names; `user.roles_changed` and `user.profile_changed` carry the
    /// user's id and names with the value before and after. `sequence` increases along the tenant's feed
    /// (`EventPosition.sequence`); `idempotencyKey` is the same on every delivery of the event and unique across
    /// tenants and regions.
    static func render(_ event: StoredEvent, tenant: String, context: TenantContext, baseURL: String) throws -> JSONValue {
        guard case .object(let stored) = try JSONDecoder.decode(event.data) else {
            throw SCIMError(status: 500, detail: "a stored event is unreadable")
        }
        let kind: ResourceKind = event.type.hasPrefix("user.") ? .user : .group
        var data = JSONObject()
        if case .object(let document)? = stored["resource"], let version = stored["version"]?.int64,
           let created = stored["created"]?.int64, let modified = stored["lastModified"]?.int64 {
            let resource = StoredResource(id: event.resourceID, document: document, version: version,
                                          created: PostgresTimestamp(microsecondsSinceEpoch: created * 1000),
                                          lastModified: PostgresTimestamp(microsecondsSinceEpoch: modified * 1000))
            let schema = SCIMService.schema(kind, context)
            let projection = kind == .user ? context.defaultUserProjection : context.defaultGroupProjection
            let rendered = Representation.render(resource, kind, schema, plan: context.renderPlan(kind), baseURL: baseURL)
            data.appendUnchecked(key: kind == .user ? "user" : "group", value: .object(projection.apply(to: rendered)))
            if let profile = stored["profile"] { data.appendUnchecked(key: "profile", value: profile) }
        } else if let after = stored["after"] {
            data.appendUnchecked(key: "user", value: .object(identity(event.resourceID, stored)))
            data.appendUnchecked(key: "before", value: stored["before"] ?? .null)
            data.appendUnchecked(key: "after", value: after)
            if let version = stored["version"] { data.appendUnchecked(key: "version", value: version) }
        } else if let members = stored["members"] {
            data.appendUnchecked(key: "group", value: .object(identity(event.resourceID, stored["group"]?.object ?? JSONObject())))
            data.appendUnchecked(key: "members", value: members)
        } else {
            data.appendUnchecked(key: kind == .user ? "user" : "group", value: .object(identity(event.resourceID, stored)))
        }
        var o = JSONObject()
        o.reserveCapacity(7)
        o.appendUnchecked(key: "id", value: .string(event.position.eventID))
        o.appendUnchecked(key: "type", value: .string(event.type))
        o.appendUnchecked(key: "occurredAt", value: .string(event.occurredAt.iso8601))
        o.appendUnchecked(key: "tenantId", value: .string(tenant))
        o.appendUnchecked(key: "sequence", value: .string(event.position.sequence))
        o.appendUnchecked(key: "idempotencyKey", value: .string(tenant + "/" + event.position.eventID))
        o.appendUnchecked(key: "data", value: .object(data))
        return .object(o)
    }

    /// `{"id", "userName"/"displayName", "externalId"}` from a deletion's or membership event's stored names
    /// (null names left out).
    static func identity(_ id: String, _ names: JSONObject) -> JSONObject {
        var o = JSONObject()
        o.appendUnchecked(key: "id", value: .string(id))
        // A fixed order (jsonb keeps none): the name first, then externalId.
        for key in ["userName", "displayName", "externalId"] {
            if let v = names[key], !v.isNull { o.appendUnchecked(key: key, value: v) }
        }
        return o
    }
}
