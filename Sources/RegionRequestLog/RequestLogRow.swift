package import JSON
package import RegionSCIM
import SCIMCore

/// One request log row, redacted and cut to size, as the writer inserts it: built from a `RequestLogEntry` and the
/// tenant's settings on the writer's thread (never on the request path). `json` is its form for the batch INSERT
/// (one object of `json_to_recordset`'s array, written straight to bytes).
package struct RequestLogRow: Sendable {
    package var tenant: String
    package var json: [UInt8]

    /// Request bodies larger than this are not parsed (nor stored): 256 KiB, a quarter of the largest body a region
    /// accepts; SCIM bodies that large are Bulk requests, whose records keep their size and outcome.
    static let parseLimit = 256 * 1024
    static let maxIdentifierBytes = 512
    static let maxDetailBytes = 1024
    static let maxQueryBytes = 2048
    static let maxUserAgentBytes = 256
    static let maxShortBytes = 200

    /// The row for `entry` under `settings` (`redactor`: a fresh one for those settings); nil when the log is off.
    package init?(_ entry: RequestLogEntry, settings: RequestLogSettings, redactor fresh: Redactor? = nil) {
        guard settings.mode != .off else { return nil }
        let full = settings.mode == .full
        var redactor = fresh ?? Redactor(settings)

        // The request body: parsed (when it is JSON and not too large) and redacted; its values hidden by the
        // redaction are then kept out of every other field.
        var requestJSON: JSONValue? = nil
        var requestOmitted: String? = nil
        if entry.requestBytes > 0 {
            if entry.requestBody.isEmpty || entry.requestBody.count > Self.parseLimit {
                requestOmitted = "too-large"
            } else if let parsed = try? JSONDecoder.decode(entry.requestBody, options: JSONDecodingOptions(duplicateKeys: .lastWins)) {
                requestJSON = parsed
            } else {
                requestOmitted = "not-json"
            }
        }
        let redactedRequest = requestJSON.map { redactor.redact($0) }
        let responseJSON = entry.response ?? entry.error.map { $0.json }
        let redactedResponse = responseJSON.map { redactor.redact($0) }

        var w = RowJSONWriter(capacity: 512 + (full ? min(entry.requestBytes, settings.maxBodyBytes) * 2 : 0))
        func text(_ key: StaticString, _ value: String?, max: Int) {
            w.string(key, value.map { Self.cut(Self.withoutNUL(redactor.scrub($0)), max) })
        }
        w.int("at_ms", entry.atMillis)
        text("request_id", entry.requestID, max: Self.maxShortBytes)
        w.string("source", entry.source.rawValue)
        w.string("idp", IdPFingerprint.identify(userAgent: entry.userAgent, quirks: entry.quirks)?.name)
        text("user_agent", entry.userAgent, max: Self.maxUserAgentBytes)
        text("method", entry.method, max: 16)
        text("route", entry.route, max: Self.maxShortBytes)
        text("resource_type", entry.resourceType, max: 16)
        text("resource_id", entry.resourceID, max: Self.maxShortBytes)

        let parameters = entry.query.map { QueryString.decode($0) } ?? []
        var names = Self.identifiers(requestJSON, entry: entry)
        if names.isEmpty, let filter = parameters.last(where: { asciiCaseInsensitiveEquals($0.name, "filter") })?.value {
            names = Self.identifiers(filter: filter)
        }
        text("user_name", redactor.withholds.userName ? nil : names.userName, max: Self.maxIdentifierBytes)
        text("external_id", redactor.withholds.externalId ? nil : names.externalId, max: Self.maxIdentifierBytes)
        text("display_name", redactor.withholds.displayName ? nil : names.displayName, max: Self.maxIdentifierBytes)
        if full && !parameters.isEmpty {
            let shown = parameters.map { p -> String in
                SecretText.isSensitiveKey(p.name) ? p.name + "=" + SecretText.marker : p.name + "=" + p.value
            }
            text("query", shown.joined(separator: "&"), max: Self.maxQueryBytes)
        }
        w.int("status", Int64(entry.status))
        w.string("scim_type", entry.error?.scimType?.rawValue)
        text("detail", entry.error?.detail, max: Self.maxDetailBytes)
        text("outcome", entry.outcome, max: 64)
        w.strings("quirks", entry.quirks.map(\.rawValue))
        w.double("duration_ms", (entry.durationMillis * 1000).rounded() / 1000)
        w.int("results", entry.results.map(Int64.init))

        func body(_ prefix: String, _ redacted: JSONValue?, bytes: Int, omitted: String?) {
            var stored: String? = nil, truncated = false, reason = omitted, size = bytes
            if reason == nil && (bytes > 0 || redacted != nil) {
                if !full {
                    reason = "metadata-only"
                } else if settings.maxBodyBytes == 0 {
                    reason = "max-body-bytes"
                } else if let redacted {
                    let encoded = JSONEncoder.encode(redacted)
                    if size == 0 { size = encoded.count }
                    if encoded.count > settings.maxBodyBytes {
                        stored = Self.cut(encoded, settings.maxBodyBytes)
                        truncated = true
                    } else {
                        stored = String(decoding: encoded, as: UTF8.self)
                    }
                } else {
                    reason = "not-kept"
                }
            }
            let request = prefix == "request"
            w.string(request ? "request_body" : "response_body", stored)
            w.count(request ? "request_bytes" : "response_bytes", size)
            w.bool(request ? "request_truncated" : "response_truncated", truncated)
            w.string(request ? "request_omitted" : "response_omitted", reason)
        }
        body("request", redactedRequest, bytes: entry.requestBytes, omitted: requestOmitted)
        // A successful read's answer is what the directory holds: it is not kept ("not-kept"), only its size.
        body("response", redactedResponse, bytes: entry.responseBytes, omitted: nil)
        tenant = entry.tenant
        json = w.finish()
    }

    /// PostgreSQL text (and jsonb) cannot hold U+0000: it becomes U+FFFD (only bodies keep it, JSON-escaped).
    static func withoutNUL(_ text: String) -> String {
        text.utf8.contains(0) ? String(text.unicodeScalars.map { $0 == "\u{0}" ? "\u{FFFD}" : Character($0) }) : text
    }

    /// `text` cut to at most `max` bytes on a character boundary.
    static func cut(_ text: String, _ max: Int) -> String {
        guard text.utf8.count > max else { return text }
        return cut(Array(text.utf8), max)
    }

    /// UTF-8 `bytes` cut to at most `max` bytes, never inside a character's encoding.
    static func cut(_ bytes: [UInt8], _ max: Int) -> String {
        guard bytes.count > max else { return String(decoding: bytes, as: UTF8.self) }
        var end = max
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// The names a write's body gives: top-level `userName`/`externalId`/`displayName` of a POST or PUT, or what a
    /// PATCH sets them to (a `path` naming one, or a no-path value object holding them); else what the answer held.
    static func identifiers(_ body: JSONValue?, entry: RequestLogEntry) -> RequestLogEntry.Identifiers {
        var names = RequestLogEntry.Identifiers()
        if entry.resourceType != nil, case .object(let o)? = body {
            if let operations = o[caseInsensitive: "Operations"]?.array {
                for operation in operations {
                    guard case .object(let op) = operation else { continue }
                    let value = op[caseInsensitive: "value"]
                    if let path = op[caseInsensitive: "path"]?.string {
                        let (attribute, sub) = Redactor.attribute(ofPath: path)
                        guard sub == nil, let s = value?.string else { continue }
                        names.set(attribute, s)
                    } else if case .object(let v)? = value {
                        for (key, s) in v { if let s = s.string { names.set(String(Redactor.unqualified(key)), s) } }
                    }
                }
            } else {
                for (key, s) in o { if let s = s.string { names.set(key, s) } }
            }
        }
        if names.userName == nil { names.userName = entry.answered.userName }
        if names.externalId == nil { names.externalId = entry.answered.externalId }
        if names.displayName == nil { names.displayName = entry.answered.displayName }
        return names
    }

    /// The names an `eq` filter looks up (`userName eq "…"`, also inside `and`/`or`): Entra and Okta find a user
    /// by userName or externalId before they create or update it.
    static func identifiers(filter text: String) -> RequestLogEntry.Identifiers {
        var names = RequestLogEntry.Identifiers()
        guard let filter = try? FilterParser.parse(text) else { return names }
        func walk(_ f: Filter) {
            switch f {
            case .compare(let path, .eq, .string(let value)) where path.subAttribute == nil:
                names.set(path.name, value)
            case .and(let l, let r), .or(let l, let r):
                walk(l)
                walk(r)
            default:
                break
            }
        }
        walk(filter)
        return names
    }
}

extension RequestLogEntry.Identifiers {
    /// Sets the name `attribute` stands for (case-insensitive), keeping the first value seen.
    mutating func set(_ attribute: String, _ value: String) {
        if asciiCaseInsensitiveEquals(attribute, "userName") { userName = userName ?? value }
        else if asciiCaseInsensitiveEquals(attribute, "externalId") { externalId = externalId ?? value }
        else if asciiCaseInsensitiveEquals(attribute, "displayName") { displayName = displayName ?? value }
    }
}
