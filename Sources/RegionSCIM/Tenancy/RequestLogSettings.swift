package import JSON
package import SCIMCore

/// What the request log keeps for one tenant (the tenant settings' `requestLog` object), with our defaults:
///
/// ```json
/// {"mode": "full", "redactAttributes": ["phoneNumbers", "addresses", "name.familyName"],
///  "retentionSeconds": 1209600, "maxRecords": 100000, "maxBodyBytes": 8192}
/// ```
/// - `mode`: `full` (default: metadata plus redacted bodies), `metadata` (no bodies, no query string) or `off`
///   (nothing is recorded for the tenant).
/// - `redactAttributes`: attribute names (any depth, case-insensitive; `parent.child` for a sub-attribute; a schema
///   URN prefix is ignored) whose values are replaced by `"[REDACTED]"` in stored bodies, and never stored in the
///   record's userName / externalId / displayName fields either. Passwords and secret-looking values are always
///   redacted, whatever this says.
/// - `retentionSeconds` (1 s to 90 days, default 14 days) and `maxRecords` (1 to 1,000,000, default 100,000): the
///   background purge keeps no record older, and no more records, than these.
/// - `maxBodyBytes` (0 to 65,536, default 8,192): each stored body is cut to this many bytes (after redaction).
package struct RequestLogSettings: Sendable, Equatable {
    /// How much is recorded.
    package enum Mode: String, Sendable, Hashable, CaseIterable {
        case full, metadata, off
    }

    package var mode: Mode
    /// The names as given (returned as they are); matching is case-insensitive.
    package var redactAttributes: [String]
    package var retentionSeconds: Int64
    package var maxRecords: Int
    package var maxBodyBytes: Int

    /// The defaults.
    package init(mode: Mode = .full, redactAttributes: [String] = [], retentionSeconds: Int64 = defaultRetentionSeconds,
                 maxRecords: Int = defaultMaxRecords, maxBodyBytes: Int = defaultMaxBodyBytes) {
        self.mode = mode
        self.redactAttributes = redactAttributes
        self.retentionSeconds = retentionSeconds
        self.maxRecords = maxRecords
        self.maxBodyBytes = maxBodyBytes
    }

    package static let defaultRetentionSeconds: Int64 = 14 * 86_400
    package static let defaultMaxRecords = 100_000
    package static let defaultMaxBodyBytes = 8192
    static let retentionRange: ClosedRange<Int64> = 1...(90 * 86_400)
    static let maxRecordsRange = 1...1_000_000
    static let maxBodyBytesRange = 0...65_536

    /// Parses the `requestLog` object of a tenant's settings (absent or null: the defaults); the error names the field.
    package static func parse(_ value: JSONValue?) throws(SCIMError) -> RequestLogSettings {
        var settings = RequestLogSettings()
        guard let value, !value.isNull else { return settings }
        guard case .object(let o) = value else { throw .invalidValue("'requestLog' must be an object") }
        for (key, v) in o {
            if v.isNull { continue }  // null: the default
            switch key {
            case "mode":
                guard let s = v.string, let mode = Mode(rawValue: s) else {
                    throw .invalidValue("'requestLog.mode' must be one of full, metadata, off")
                }
                settings.mode = mode
            case "redactAttributes":
                guard case .array(let names) = v, names.count <= 100 else {
                    throw .invalidValue("'requestLog.redactAttributes' must be an array of at most 100 attribute names")
                }
                settings.redactAttributes = try names.map { name throws(SCIMError) -> String in
                    guard let s = name.string, (1...200).contains(s.utf8.count),
                          !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                        throw .invalidValue("'requestLog.redactAttributes' entries must be attribute names (1 to 200 bytes)")
                    }
                    return s
                }
            case "retentionSeconds":
                guard let n = v.int64, retentionRange.contains(n) else {
                    throw .invalidValue("'requestLog.retentionSeconds' must be an integer from 1 to \(retentionRange.upperBound)")
                }
                settings.retentionSeconds = n
            case "maxRecords":
                guard let n = v.int, maxRecordsRange.contains(n) else {
                    throw .invalidValue("'requestLog.maxRecords' must be an integer from 1 to \(maxRecordsRange.upperBound)")
                }
                settings.maxRecords = n
            case "maxBodyBytes":
                guard let n = v.int, maxBodyBytesRange.contains(n) else {
                    throw .invalidValue("'requestLog.maxBodyBytes' must be an integer from 0 to \(maxBodyBytesRange.upperBound)")
                }
                settings.maxBodyBytes = n
            default:
                throw .invalidValue("'requestLog.\(key.prefix(64))' is not a request log setting "
                                    + "(mode, redactAttributes, retentionSeconds, maxRecords, maxBodyBytes)")
            }
        }
        return settings
    }

    /// Every value, defaults included (what is stored and what the tenant API returns).
    package var json: JSONValue {
        .object([
            "mode": .string(mode.rawValue), "redactAttributes": .array(redactAttributes.map { .string($0) }),
            "retentionSeconds": .number(JSONNumber(retentionSeconds)), "maxRecords": .number(JSONNumber(maxRecords)),
            "maxBodyBytes": .number(JSONNumber(maxBodyBytes)),
        ])
    }
}
