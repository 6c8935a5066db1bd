import Crypto
package import JSON
import Postgres
import RegionLink
import SCIMCore
import Synchronization
import Locking
import RegionSCIM

/// Webhook endpoint configuration and state, per tenant, as the internal API manages it: configure (URL and
/// secret), show (delivery state and recent dead letters), remove, and redeliver (resume after a dead letter, skip
/// it, or replay from any cursor).
package struct WebhookEndpoints: Sendable {
    let database: RegionDatabase
    let keys: WebhookKeys
    let allowInsecureHTTP: Bool

    /// Runs `body` in a read-write transaction scoped to the tenant.
    func transaction<R>(_ tenant: String, _ body: (PostgresConnection) throws -> R) throws -> R {
        try database.pool.withTransaction(setup: [.prepared(RegionDatabase.setTenant, [.text(tenant)])], body)
    }

    /// `transaction` for a change: refused (503) while a move between regions fences the tenant's writes.
    func changeTransaction<R>(_ tenant: String, _ body: (PostgresConnection) throws -> R) throws -> R {
        try database.fencedTransaction(tenant: tenant, body)
    }

    // MARK: Configure

    /// `PUT …/webhook`: `{"url", "secret"?, "rotateSecret"?, "from"?: "now"|"beginning"|<cursor>}`. A new endpoint
    /// gets a generated secret unless one is given; the answer shows the secret only when it was set or generated.
    /// Changing an endpoint resumes delivery (attempts reset, an open dead letter resolved as redelivered).
    package func put(tenant: String, body: JSONValue) throws -> (created: Bool, json: JSONValue) {
        guard case .object(let o) = body else { throw SCIMError.invalidSyntax("the webhook settings must be a JSON object") }
        var url: WebhookURL? = nil
        if let text = o["url"] {
            guard let s = text.string else { throw SCIMError.invalidValue("'url' must be a string") }
            switch WebhookURL.parse(s, allowInsecure: allowInsecureHTTP) {
            case .success(let u): url = u
            case .failure(let problem): throw SCIMError.invalidValue(problem.description)
            }
        }
        var secret: String? = nil
        if let s = o["secret"], !s.isNull {
            guard let text = s.string, WebhookSignature.isAcceptableSecret(text) else {
                throw SCIMError.invalidValue("'secret' must be 24-256 printable ASCII characters without spaces")
            }
            secret = text
        }
        let rotate = o["rotateSecret"]?.bool ?? false
        let from = try o["from"].map { value throws(SCIMError) -> String in
            guard let s = value.string, s == "now" || s == "beginning" || EventPosition(cursor: s) != nil else {
                throw .invalidValue("'from' must be \"now\", \"beginning\" or an event cursor")
            }
            return s
        }
        return try changeTransaction(tenant) { connection in
            let existing = try connection.query("SELECT url FROM webhook_endpoints WHERE tenant_id = $1 FOR UPDATE", [.uuid(tenant)])
            let creating = existing.rowCount == 0
            if creating && url == nil { throw SCIMError.invalidValue("'url' is required for a new webhook endpoint") }
            if !creating && from != nil {
                throw SCIMError.invalidValue("'from' applies to a new endpoint; use redeliver with 'after' to move an existing one")
            }
            if creating && secret == nil { secret = WebhookSignature.newSecret() }
            if rotate && secret == nil { secret = WebhookSignature.newSecret() }
            var sealed: (keyID: String, sealed: [UInt8])? = nil
            if let secret {
                guard let s = keys.seal(secret, tenant: tenant) else {
                    throw SCIMError(status: 503, detail: "this region has no current webhook key in its keyring; add a 'webhook' key")
                }
                sealed = s
            }
            if creating {
                var position = EventPosition.start
                switch from ?? "now" {
                case "beginning": position = .start
                case "now":
                    let h = try connection.query(EventFeed.horizon)
                    position = EventPosition(xid: h.string(row: 0, column: 0).flatMap { UInt64($0) } ?? 0, seq: 0)
                case let cursor: position = EventPosition(cursor: cursor) ?? .start
                }
                try connection.query(
                    """
                    INSERT INTO webhook_endpoints (tenant_id, url, secret_key_id, secret_sealed, cursor_xid, cursor_seq)
                    VALUES ($1, $2, $3, $4, $5::xid8, $6)
                    """,
                    [.uuid(tenant), .text(url!.description), .text(sealed!.keyID), .bytes(sealed!.sealed), .text(position.xidText),
                     .int(position.seq)])
            } else {
                try connection.query(
                    """
                    UPDATE webhook_endpoints SET url = coalesce($2, url), secret_key_id = coalesce($3, secret_key_id),
                        secret_sealed = coalesce($4, secret_sealed), attempts = 0, next_attempt_at = now(),
                        dead_lettered_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = now()
                    WHERE tenant_id = $1
                    """,
                    [.uuid(tenant), PostgresValue(url?.description), PostgresValue(sealed?.keyID),
                     sealed.map { .bytes($0.sealed) } ?? .null])
                try resolveDeadLetters(connection, tenant: tenant, resolution: "redelivered")
            }
            guard case .object(var json) = try show(connection, tenant: tenant) else { return (creating, .null) }
            if let secret {
                json.appendUnchecked(key: "secret", value: .string(secret))
                json.appendUnchecked(key: "notice", value: .string("store this secret now: it is shown only once"))
            }
            return (creating, .object(json))
        }
    }

    // MARK: Show, remove

    /// `GET …/webhook`: configuration (never the secret), delivery state, a bounded backlog count and the 20 latest
    /// dead letters; nil when the tenant has no endpoint.
    package func get(tenant: String) throws -> JSONValue? {
        try transaction(tenant) { connection -> JSONValue? in
            let json = try show(connection, tenant: tenant)
            // Not `json.isNull ? nil : json`: JSONValue is nil-literal-expressible, so that `nil` would be `.null`.
            if json.isNull { return Optional.none }
            return json
        }
    }

    static let backlogLimit = 10_000

    func show(_ connection: PostgresConnection, tenant: String) throws -> JSONValue {
        let row = try connection.query(
            """
            SELECT url, secret_key_id, cursor_xid::text, cursor_seq, attempts, next_attempt_at, dead_lettered_at,
                   last_attempt_at, last_status, last_error, last_delivered_at, delivered_events, created_at, updated_at,
                   (SELECT count(*) FROM (SELECT 1 FROM events e WHERE e.tenant_id = w.tenant_id
                        AND (e.xid, e.seq) > (w.cursor_xid, w.cursor_seq) LIMIT $2) AS b)
            FROM webhook_endpoints w WHERE tenant_id = $1
            """, [.uuid(tenant), .int(Int64(Self.backlogLimit))])
        guard row.rowCount == 1 else { return .null }
        let position = EventPosition(xid: row.string(row: 0, column: 2).flatMap { UInt64($0) } ?? 0, seq: row.int(row: 0, column: 3) ?? 0)
        let state = DeliveryState(attempts: Int(row.int(row: 0, column: 4) ?? 0), deadLettered: !row.isNull(row: 0, column: 6))
        func time(_ column: Int) -> JSONValue { row.timestamp(row: 0, column: column).map { .string($0.iso8601) } ?? .null }
        var o = JSONObject()
        o.appendUnchecked(key: "url", value: .string(row.string(row: 0, column: 0) ?? ""))
        o.appendUnchecked(key: "secretKeyId", value: .string(row.string(row: 0, column: 1) ?? ""))
        o.appendUnchecked(key: "state", value: .string(state.name))
        o.appendUnchecked(key: "cursor", value: .string(position.cursor))
        o.appendUnchecked(key: "attempts", value: .number(JSONNumber(row.int(row: 0, column: 4) ?? 0)))
        o.appendUnchecked(key: "nextAttemptAt", value: time(5))
        o.appendUnchecked(key: "deadLetteredAt", value: time(6))
        o.appendUnchecked(key: "lastAttemptAt", value: time(7))
        o.appendUnchecked(key: "lastStatus", value: row.int(row: 0, column: 8).map { .number(JSONNumber($0)) } ?? .null)
        o.appendUnchecked(key: "lastError", value: row.string(row: 0, column: 9).map { .string($0) } ?? .null)
        o.appendUnchecked(key: "lastDeliveredAt", value: time(10))
        o.appendUnchecked(key: "deliveredEvents", value: .number(JSONNumber(row.int(row: 0, column: 11) ?? 0)))
        let backlog = row.int(row: 0, column: 14) ?? 0
        o.appendUnchecked(key: "backlog", value: .number(JSONNumber(backlog)))
        o.appendUnchecked(key: "backlogIsLowerBound", value: .bool(backlog >= Int64(Self.backlogLimit)))
        o.appendUnchecked(key: "createdAt", value: time(12))
        o.appendUnchecked(key: "updatedAt", value: time(13))
        o.appendUnchecked(key: "deadLetters", value: .array(try deadLetters(connection, tenant: tenant)))
        return .object(o)
    }

    func deadLetters(_ connection: PostgresConnection, tenant: String) throws -> [JSONValue] {
        let rows = try connection.query(
            """
            SELECT id, after_xid::text, after_seq, last_xid::text, last_seq, event_count, attempts, last_status, last_error,
                   created_at, resolved_at, resolution
            FROM webhook_dead_letters WHERE tenant_id = $1 ORDER BY id DESC LIMIT 20
            """, [.uuid(tenant)])
        return (0..<rows.rowCount).map { r in
            let after = EventPosition(xid: rows.string(row: r, column: 1).flatMap { UInt64($0) } ?? 0, seq: rows.int(row: r, column: 2) ?? 0)
            let last = EventPosition(xid: rows.string(row: r, column: 3).flatMap { UInt64($0) } ?? 0, seq: rows.int(row: r, column: 4) ?? 0)
            var o = JSONObject()
            o.appendUnchecked(key: "id", value: .number(JSONNumber(rows.int(row: r, column: 0) ?? 0)))
            o.appendUnchecked(key: "after", value: .string(after.cursor))
            o.appendUnchecked(key: "lastEventId", value: .string(last.eventID))
            o.appendUnchecked(key: "lastEventCursor", value: .string(last.cursor))
            o.appendUnchecked(key: "eventCount", value: .number(JSONNumber(rows.int(row: r, column: 5) ?? 0)))
            o.appendUnchecked(key: "attempts", value: .number(JSONNumber(rows.int(row: r, column: 6) ?? 0)))
            o.appendUnchecked(key: "lastStatus", value: rows.int(row: r, column: 7).map { .number(JSONNumber($0)) } ?? .null)
            o.appendUnchecked(key: "lastError", value: rows.string(row: r, column: 8).map { .string($0) } ?? .null)
            o.appendUnchecked(key: "createdAt", value: rows.timestamp(row: r, column: 9).map { .string($0.iso8601) } ?? .null)
            o.appendUnchecked(key: "resolvedAt", value: rows.timestamp(row: r, column: 10).map { .string($0.iso8601) } ?? .null)
            o.appendUnchecked(key: "resolution", value: rows.string(row: r, column: 11).map { .string($0) } ?? .null)
            return .object(o)
        }
    }

    /// `DELETE …/webhook`: false when there was none. Dead letters go with it; events stay (the pull API still has them).
    package func delete(tenant: String) throws -> Bool {
        try changeTransaction(tenant) { connection in
            try connection.execute("DELETE FROM webhook_dead_letters WHERE tenant_id = $1", [.uuid(tenant)])
            return try connection.execute("DELETE FROM webhook_endpoints WHERE tenant_id = $1", [.uuid(tenant)]) == 1
        }
    }

    // MARK: Redeliver

    /// `POST …/webhook/redeliver`: `{}` resumes with the batch that was dead-lettered (or simply retries now);
    /// `{"skip": true}` resumes after it; `{"after": <cursor>|"now"|"beginning"}` moves the endpoint's cursor (replay or
    /// skip ahead). The lease is cleared, so a delivery in flight cannot move the cursor back afterwards.
    package func redeliver(tenant: String, body: JSONValue) throws -> JSONValue? {
        let o = body.object ?? JSONObject()
        let skip = o["skip"]?.bool ?? false
        let after = try o["after"].map { value throws(SCIMError) -> String in
            guard let s = value.string, s == "now" || s == "beginning" || EventPosition(cursor: s) != nil else {
                throw .invalidValue("'after' must be \"now\", \"beginning\" or an event cursor")
            }
            return s
        }
        if skip && after != nil { throw SCIMError.invalidValue("give either 'skip' or 'after', not both") }
        return try changeTransaction(tenant) { connection -> JSONValue? in
            let current = try connection.query("SELECT cursor_xid::text, cursor_seq FROM webhook_endpoints WHERE tenant_id = $1 FOR UPDATE",
                                               [.uuid(tenant)])
            guard current.rowCount == 1 else { return Optional.none }
            var position = EventPosition(xid: current.string(row: 0, column: 0).flatMap { UInt64($0) } ?? 0,
                                         seq: current.int(row: 0, column: 1) ?? 0)
            if skip {
                let open = try connection.query(
                    "SELECT last_xid::text, last_seq FROM webhook_dead_letters WHERE tenant_id = $1 AND resolved_at IS NULL ORDER BY id DESC LIMIT 1",
                    [.uuid(tenant)])
                guard open.rowCount == 1 else { throw SCIMError(status: 409, detail: "there is no open dead letter to skip") }
                position = EventPosition(xid: open.string(row: 0, column: 0).flatMap { UInt64($0) } ?? 0, seq: open.int(row: 0, column: 1) ?? 0)
            } else if let after {
                switch after {
                case "beginning": position = .start
                case "now":
                    let h = try connection.query(EventFeed.horizon)
                    position = EventPosition(xid: h.string(row: 0, column: 0).flatMap { UInt64($0) } ?? 0, seq: 0)
                default: position = EventPosition(cursor: after) ?? position
                }
            }
            try connection.query(
                """
                UPDATE webhook_endpoints SET cursor_xid = $2::xid8, cursor_seq = $3, attempts = 0, next_attempt_at = now(),
                    dead_lettered_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = now()
                WHERE tenant_id = $1
                """, [.uuid(tenant), .text(position.xidText), .int(position.seq)])
            try resolveDeadLetters(connection, tenant: tenant, resolution: skip ? "skipped" : "redelivered")
            return try show(connection, tenant: tenant)
        }
    }

    func resolveDeadLetters(_ connection: PostgresConnection, tenant: String, resolution: String) throws {
        try connection.query(
            "UPDATE webhook_dead_letters SET resolved_at = now(), resolution = $2 WHERE tenant_id = $1 AND resolved_at IS NULL",
            [.uuid(tenant), .text(resolution)])
    }
}
