#if canImport(Glibc)
import Glibc
#endif
import Flags
import HTTPCore
import JSON

extension ScimctlCommand {
    /// `tenant log <tenant> [filters] [--follow] [--bodies]` and `tenant log <tenant> --summary`: the tenant's request
    /// log from its home region (GET /admin/v1/tenants/{t}/request-log[/summary]). Records print oldest first, one
    /// line each; with `--follow` the command keeps polling the listing's `newer` cursor every second.
    static func tenantLog(_ args: [String], _ options: ParsedOptions, client: AdminClient, json: Bool) throws -> Int32 {
        guard args.count >= 3 else { throw UsageError("missing <tenant>") }
        let path = "/admin/v1/tenants/" + PercentEncoding.encode(args[2]) + "/request-log"
        if options.bool("summary") {
            var query: [(name: String, value: String)] = [("recent", "10")]
            if let m = options.string("minutes") { query.append(("minutes", m)) }
            let summary = try client.call(.get, path + "/summary?" + QueryParameters(query).encoded) ?? .null
            writeStandardOutput(json ? String(decoding: summary.encoded(), as: UTF8.self) + "\n" : renderSummary(summary))
            return 0
        }
        var query: [(name: String, value: String)] = []
        for (option, parameter) in [("status", "status"), ("user", "userName"), ("external-id", "externalId"),
                                    ("resource", "resourceId"), ("method", "method"), ("since", "since"), ("until", "until"),
                                    ("limit", "limit")] {
            if let value = options.string(option) { query.append((parameter, value)) }
        }
        let bodies = options.bool("bodies")
        if !bodies { query.append(("bodies", "false")) }
        let first = try client.call(.get, path + (query.isEmpty ? "" : "?" + QueryParameters(query).encoded)) ?? .null
        func show(_ records: [JSONValue]) {
            if json {
                for r in records { writeStandardOutput(String(decoding: r.encoded(), as: UTF8.self) + "\n") }
            } else {
                writeStandardOutput(records.map { renderRecord($0, bodies: bodies) }.joined())
            }
        }
        // The first page is newest first: printed the other way round, so the latest request is the last line.
        show((first["records"]?.array ?? []).reversed())
        guard options.bool("follow") else {
            if !json, let next = first["next"]?.string, !next.isEmpty {
                writeStandardOutput("(older records exist: narrow with --since/--status/--user, or raise --limit)\n")
            }
            return 0
        }
        guard var cursor = first["newer"]?.string else { return 0 }
        while true {
            var q = query.filter { $0.name != "limit" }
            q.append(("cursor", cursor))
            let page = try client.call(.get, path + "?" + QueryParameters(q).encoded) ?? .null
            show(page["records"]?.array ?? [])
            cursor = page["newer"]?.string ?? cursor
            if page["hasMore"]?.bool != true { usleep(1_000_000) }
        }
    }

    /// One line per record (and the bodies under it with `--bodies`).
    static func renderRecord(_ r: JSONValue, bodies: Bool) -> String {
        var line = "\(r["at"]?.string ?? "")  \(r["method"]?.string ?? "") \(r["route"]?.string ?? "")  \(r["status"]?.int ?? 0)"
        if let ms = r["durationMs"]?.double { line += "  " + String((ms * 10).rounded() / 10) + " ms" }
        for (key, label) in [("userName", "user"), ("externalId", "externalId"), ("displayName", "name"), ("resourceId", "id"),
                             ("idp", "idp")] {
            if let v = r[key]?.string { line += "  \(label)=\(v)" }
        }
        if r["source"]?.string == "gateway" { line += "  [refused by the gateway: \(r["outcome"]?.string ?? "")]" }
        if let q = r["quirks"]?.array, !q.isEmpty { line += "  quirks=" + q.compactMap(\.string).joined(separator: ",") }
        if let t = r["scimType"]?.string { line += "  \(t)" }
        if let d = r["detail"]?.string { line += ": \(d)" }
        line += "  request-id=\(r["requestId"]?.string ?? "")\n"
        if bodies {
            if let q = r["query"]?.string { line += "    query:    \(q)\n" }
            for key in ["request", "response"] {
                guard let b = r[key], (b["bytes"]?.int ?? 0) > 0 else { continue }
                let label = key == "request" ? "request: " : "response:"
                if let body = b["body"]?.string {
                    line += "    \(label) \(body)\(b["truncated"]?.bool == true ? " …(cut)" : "")\n"
                } else {
                    line += "    \(label) (\(b["bytes"]?.int ?? 0) bytes, not stored: \(b["omitted"]?.string ?? "-"))\n"
                }
            }
        }
        return line
    }

    static func renderSummary(_ s: JSONValue) -> String {
        var lines: [String] = []
        let c = s["byClass"]
        lines.append("last \(s["windowMinutes"]?.int ?? 0) min: \(s["total"]?.int ?? 0) requests  2xx=\(c?["2xx"]?.int ?? 0)"
                     + "  3xx=\(c?["3xx"]?.int ?? 0)  4xx=\(c?["4xx"]?.int ?? 0)  5xx=\(c?["5xx"]?.int ?? 0)")
        if case .object(let outcomes)? = s["byOutcome"], !outcomes.isEmpty {
            lines.append("refused by the gateway: " + outcomes.map { "\($0.key)=\($0.value.int ?? 0)" }.joined(separator: "  "))
        }
        lines.append("last request: \(s["lastRequestAt"]?.string ?? "none yet")")
        let recent = s["recent"]?.array ?? []
        if !recent.isEmpty {
            lines.append("latest:")
            return lines.joined(separator: "\n") + "\n" + recent.reversed().map { "  " + renderRecord($0, bodies: false) }.joined()
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `requestLog` settings from `--request-log`, `--log-retention`, `--log-max-records`, `--log-redact`,
    /// `--log-max-body-bytes` (nil when none is given).
    static func requestLogSettings(_ options: ParsedOptions) throws -> JSONValue? {
        var o = JSONObject()
        if let mode = options.string("request-log") {
            guard ["full", "metadata", "off"].contains(mode) else { throw UsageError("--request-log takes full, metadata or off") }
            o.set("mode", .string(mode))
        }
        if let r = options.string("log-retention") { o.set("retentionSeconds", .number(JSONNumber(try seconds(r, "--log-retention")))) }
        if let n = try options.int("log-max-records", in: 1...1_000_000) { o.set("maxRecords", .number(JSONNumber(n))) }
        if let n = try options.int("log-max-body-bytes", in: 0...65_536) { o.set("maxBodyBytes", .number(JSONNumber(n))) }
        if let list = options.string("log-redact") {
            o.set("redactAttributes", .array(list.split(separator: ",").map { .string(String($0).trimmingWhitespace()) }))
        }
        return o.isEmpty ? nil : .object(o)
    }
}
