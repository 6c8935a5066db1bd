#if canImport(Glibc)
import Glibc
#endif
import Flags
import HTTPCore
import JSON

/// `tenant move`, `tenant move-status`, `tenant move-abort`, `tenant move-resume` and `tenant residency`.
extension ScimctlCommand {
    static let moveCommands: Set<String> = ["move", "move-status", "move-abort", "move-resume", "residency"]

    static func tenantMoveCommand(_ args: [String], _ options: ParsedOptions, client: AdminClient, json: Bool) throws -> Int32 {
        guard args.count >= 3 else { throw UsageError("missing <tenant>") }
        let path = "/admin/v1/tenants/" + PercentEncoding.encode(args[2])
        let result: JSONValue?
        switch args[1] {
        case "move":
            guard let target = options.string("to") else { throw UsageError("tenant move needs --to <region>") }
            result = try client.call(.post, path + "/move", body: ["to": .string(target)])
        case "move-status": result = try client.call(.get, path + "/move")
        case "move-abort": result = try client.call(.post, path + "/move/abort")
        case "move-resume": result = try client.call(.post, path + "/move/resume")
        default:
            var window: [String] = []
            for name in ["since", "until"] {
                if let value = options.string(name) { window.append(name + "=" + PercentEncoding.encode(value)) }
            }
            let report = try client.call(.get, path + "/residency" + (window.isEmpty ? "" : "?" + window.joined(separator: "&")),
                                         timeout: .seconds(60)) ?? .null
            writeStandardOutput(json ? String(decoding: report.encoded(), as: UTF8.self) + "\n" : renderResidency(report))
            return 0
        }
        guard var move = result else { return 0 }
        writeStandardOutput(json ? String(decoding: move.encoded(), as: UTF8.self) + "\n" : renderMove(move) + "\n")
        guard options.bool("follow") else { return 0 }
        // Poll until the move ends; print a line whenever its state or round changes.
        var last = moveLine(move)
        while !["done", "aborted", "failed"].contains(move["state"]?.string ?? "") {
            usleep(500_000)
            guard let next = try client.call(.get, path + "/move") else { continue }
            move = next
            let line = moveLine(move)
            if line != last {
                writeStandardOutput(json ? String(decoding: move.encoded(), as: UTF8.self) + "\n" : renderMove(move) + "\n")
                last = line
            }
        }
        // Success is what the command asked for: an aborted move for move-abort, a finished one otherwise.
        return move["state"]?.string == (args[1] == "move-abort" ? "aborted" : "done") ? 0 : 1
    }

    /// What changes between two polls worth printing.
    static func moveLine(_ move: JSONValue) -> String {
        "\(move["state"]?.string ?? "")/\(move["progress"]?["rounds"]?.int ?? 0)/\(move["lastError"]?.string ?? "")"
    }

    static func renderMove(_ m: JSONValue) -> String {
        let p = m["progress"]
        var line = "move \(m["id"]?.string ?? "")  \(m["from"]?.string ?? "") → \(m["to"]?.string ?? "")  state=\(m["state"]?.string ?? "")"
        if m["writesPaused"]?.bool == true { line += " (writes paused)" }
        if let rounds = p?["rounds"]?.int { line += "  rounds=\(rounds) rowsCopied=\(p?["rowsCopied"]?.int ?? 0)" }
        if let copy = p?["copyMillis"]?.int { line += "  copy=\(copy)ms" }
        if let catchUp = p?["catchUpMillis"]?.int { line += "  finalCatchUp=\(catchUp)ms" }
        if let pause = p?["pauseMillis"]?.int { line += "  pause=\(pause)ms" }
        if let residue = p?["sourceResidue"]?.int { line += "  sourceRowsLeft=\(residue)" }
        if m["abortRequested"]?.bool == true && m["state"]?.string != "aborted" { line += "  (abort requested)" }
        if let e = m["lastError"]?.string { line += "\n  last error: \(e)" }
        return line
    }

    static func renderResidency(_ r: JSONValue) -> String {
        var lines = ["tenant \(r["tenantName"]?.string ?? "") (\(r["tenantId"]?.string ?? ""))  home region: \(r["homeRegion"]?.string ?? "")"
                     + "  \(r["scimBaseURL"]?.string ?? "")",
                     "report generated \(r["generatedAt"]?.string ?? "")"]
        for region in r["regions"]?.array ?? [] {
            let db = region["database"]
            let dbText = "database \(db?["name"]?.string ?? "?") on \(db?["host"]?.string ?? "?"):\(db?["port"]?.int.map(String.init) ?? "?")"
                + (db?["overriddenBy"]?.string.map { " (unless \($0) overrides it)" } ?? "")
            let home = region["home"]?.bool == true
            lines.append("\(home ? "stored in" : "also checked"): \(region["region"]?.string ?? "") (\(region["displayName"]?.string ?? ""))  \(dbText), from \(region["configuredIn"]?.string ?? "")")
            if let observed = region["observedDatabase"], !observed.isNull {
                lines.append("  the region reports its database as \(observed["name"]?.string ?? "?") at \(observed["address"]?.string ?? "local socket"):\(observed["port"]?.int.map(String.init) ?? "-")")
            }
            if region["unreachable"]?.bool == true {
                lines.append("  rows: unknown (the region did not answer)")
            } else {
                let rows = (region["rows"]?.object ?? JSONObject()).map { "\($0.key)=\($0.value.int ?? 0)" }.sorted().joined(separator: " ")
                lines.append("  rows of this tenant: \(region["totalRows"]?.int ?? 0)" + (home ? "  (\(rows))" : ""))
            }
        }
        if let log = r["requestLog"], !log.isNull {
            let policy = (log["policy"]?.object ?? JSONObject()).map { "\($0.key)=\(String(decoding: $0.value.encoded(), as: UTF8.self))" }.sorted()
            let rows = (log["rowsByRegion"]?.object ?? JSONObject()).map { "\($0.key)=\($0.value.int.map(String.init) ?? "?")" }.sorted()
            lines.append("request log: stored in \(log["storedIn"]?.string ?? "?") only; policy \(policy.isEmpty ? "default" : policy.joined(separator: " "))"
                         + "; records per region: \(rows.joined(separator: " "))")
        }
        if let p = r["processing"], !p.isNull {
            let window = "\(p["since"]?.string ?? "the oldest record") to \(p["until"]?.string ?? "now")"
            if p["unreachable"]?.bool == true || p["requestLogOff"]?.bool == true {
                lines.append("requests processed \(window): unknown (\(p["requestLogOff"]?.bool == true ? "the home region keeps no request log" : "the home region did not answer"))")
            } else {
                lines.append("requests processed \(window) (\(p["from"]?.string ?? "request log")): \(p["total"]?.int ?? 0)")
                for region in p["byRegion"]?.array ?? [] {
                    lines.append("  region \(region["region"]?.string ?? "?"): \(region["requests"]?.int ?? 0) requests")
                    for process in region["processes"]?.array ?? [] {
                        lines.append("    \(process["process"]?.string ?? "?")  \(process["requests"]?.int ?? 0)  \(process["first"]?.string ?? "") … \(process["last"]?.string ?? "")")
                    }
                }
                let refused = p["refusedByGateway"]?["requests"]?.int ?? 0
                if refused > 0 { lines.append("  refused by a gateway (no region read or wrote anything): \(refused)") }
                if let n = p["unattributed"]?.int, n > 0 { lines.append("  written before records named their process: \(n)") }
            }
            let held = (p["dataHeldIn"]?.array ?? []).compactMap(\.string)
            lines.append("  data held in: \(held.isEmpty ? "no region" : held.joined(separator: ", "))")
        }
        let moves = r["moves"]?.array ?? []
        lines.append(moves.isEmpty ? "moves: none" : "moves:")
        for m in moves {
            var line = "  \(m["requestedAt"]?.string ?? "")  \(m["from"]?.string ?? "") → \(m["to"]?.string ?? "")  \(m["state"]?.string ?? "")"
                + "  by \(m["requestedBy"]?.string ?? "")"
            if let at = m["cutOverAt"]?.string { line += "  cut over \(at)" }
            if let pause = m["pauseMillis"]?.int { line += "  pause \(pause) ms" }
            if m["sourceResidue"]?.int == 0 { line += "  source verified empty" }
            if let e = m["error"]?.string { line += "  error: \(e)" }
            lines.append(line)
        }
        let audit = r["auditTrail"]?.array ?? []
        if !audit.isEmpty { lines.append("audit:") }
        for e in audit {
            lines.append("  \(e["at"]?.string ?? "")  \(e["action"]?.string ?? "")  \(e["actor"]?.string ?? "")")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
