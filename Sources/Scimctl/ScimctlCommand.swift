#if canImport(Glibc)
import Glibc
#endif
import Flags
import HTTPCore
import JSON
import NetIO
import RegionLink

/// `scimctl`: the operator's CLI over the admin API.
package enum ScimctlCommand {
    static let commands = """
        Commands:
          tenant create <name> --region <id> [--deprovision hard|soft|refuse] [--rate N] [--burst N] [--no-token]
                        [--unique-external-id on|off]     (externalId is not unique by default, RFC 7643 §3.1)
          tenant list
          tenant show <tenant>
          tenant update <tenant> [--name N] [--deprovision P] [--rate N] [--burst N] [--unique-external-id on|off]
          tenant delete <tenant> --yes                 deletes the tenant and all its data in its region
          tenant quirks <tenant>                       which IdP quirks its requests needed (its IdP's dialect)
          tenant move <tenant> --to <region> [--follow]
                                                       move the tenant's data to another region while its IdP keeps
                                                       syncing (a pause of a few seconds at the cut-over); --follow
                                                       prints its progress until it ends
          tenant move-status <tenant> [--follow]       the latest move: state, rounds, pause, verification
          tenant move-abort <tenant> [--follow]        undo a move before its cut-over (the source stays as it was)
          tenant move-resume <tenant> [--follow]       take a stalled move over now, or start a failed one again
          tenant residency <tenant> [--since T] [--until T]
                                                       where the tenant's data is stored, which regions and processes
                                                       handled its requests in the window, its move history (for auditors)
          tenant log <tenant> [--follow] [--status 4xx|404] [--user NAME] [--external-id ID] [--resource ID]
                     [--method M] [--since T] [--until T] [--limit N] [--bodies]
                                                       its request log (home region): newest last; --follow keeps
                                                       printing new requests (Ctrl-C stops); --bodies adds the
                                                       redacted request and response bodies
          tenant log <tenant> --summary [--minutes 15]  requests of the last minutes by status class, the last one
          tenant create|update … [--request-log full|metadata|off] [--log-retention 14d] [--log-max-records N]
                     [--log-redact attr,attr] [--log-max-body-bytes N]   what its request log keeps
          token issue <tenant> [--label L] [--expires-in 90d|12h|3600]
          token list <tenant>
          token rotate <tenant> <token-id> [--grace 24h]   old token keeps working until the grace window ends
          token revoke <tenant> <token-id> [--reason R]
          oauth-client create <tenant> [--label L] [--lifetime 60m]
                                                       OAuth client credentials (Entra ID): id + secret, shown once;
                                                       access tokens live --lifetime (5m to 6h, default 60m)
          oauth-client list <tenant>
          oauth-client update <tenant> <client-id> [--lifetime D] [--label L]
          oauth-client rotate <tenant> <client-id> [--grace 24h]  new secret; the old one works until the grace ends
          oauth-client revoke <tenant> <client-id> [--reason R]   the client and its access tokens stop at once
          setup-link create <tenant> [--expires-in 7d] [--label L]
                                                       a link for the customer's IT admin (shown once; max 30 days)
          setup-link list <tenant>
          setup-link revoke <tenant> <link-id>
          integration deactivate <tenant>              every SCIM call is refused (401), data is kept
          integration update-token <tenant>            all live tokens die, one new token is shown once
          integration reactivate <tenant>
          keys list
          keys rotate pepper|link [--wait 15]
          keys promote link
          keys retire pepper|link <key-id> [--force]
          events <tenant> [--after CURSOR|now] [--limit N] [--follow]
                                                       the tenant's events, oldest first; --follow keeps polling
          users <tenant> [--after C] [--limit N]       current users (plain JSON read API)
          groups <tenant> [--after C] [--limit N]      current groups (without members)
          members <tenant> <group-id> [--after C] [--limit N]
          user <tenant> <user-id>                      one user with its groups, effective roles and profile
          roles show <tenant>                          the app's roles, the rules, the recompute's progress
          roles set <tenant> --file rules.json         replace them (400 and no change when invalid)
          roles delete <tenant> --yes                  every user then has no roles
          mapping show <tenant>                        the attribute mapping to the app's profile fields
          mapping preview <tenant> --file mapping.json [--users ID,ID | --sample N]
                                                       what it would give sample users; saves nothing
          mapping set <tenant> --file mapping.json     replace it (400 and no change when invalid)
          mapping delete <tenant> --yes                every profile then becomes null
          snapshot <tenant> [--limit N]                the whole directory at one instant, as JSON lines on
                                                       stdout (users, groups, memberships); resume events
                                                       from its eventCursor (printed on stderr)
          webhook set <tenant> <https-url> [--secret-file F] [--rotate-secret] [--from now|beginning|CURSOR]
                                                       a new endpoint gets a generated secret, shown once
          webhook show <tenant>                        delivery state, backlog and recent dead letters
          webhook redeliver <tenant> [--skip | --after CURSOR|now|beginning]
                                                       resume after a dead letter (or skip it, or replay)
          webhook delete <tenant> --yes
          audit [--tenant T] [--limit N] [--after ID]
          regions
          keyring init <path>                          create a keyring file (fresh link, pepper and webhook keys, mode 0600);
                                                       local, no API call

        <tenant> is a tenant id or name. Output is text; --json prints the API's JSON.
        The admin URL and token default to .run/admin.port and .run/admin-token when present (make run writes them).
        """

    static let spec = CommandLineSpec(
        command: "scimctl", summary: "operate the SCIM gateway through its admin API",
        usage: "scimctl [--url URL] [--admin-token-file PATH] [--json] <command> ...",
        options: [
            .value("url", "url", env: "SCIMCTL_URL", help: "Admin API base URL (default http://127.0.0.1:<.run/admin.port> or :9090)"),
            .value("admin-token", "token", env: "SCIMCTL_ADMIN_TOKEN", secret: true, help: "Admin credential (prefer the file)"),
            .value("admin-token-file", "path", env: "SCIMCTL_ADMIN_TOKEN_FILE", help: "File holding the admin credential"),
            .flag("json", help: "Print the API's JSON"),
            .value("region", "id", help: "Home region of a new tenant"),
            .value("to", "region", help: "tenant move: the region to move the tenant to"),
            .value("deprovision", "policy", help: "What DELETE /Users does: hard, soft (tombstone) or refuse (405)"),
            .value("rate", "rps", help: "Tenant rate limit (requests/second; 0 = unlimited)"),
            .value("burst", "n", help: "Tenant burst"),
            .value("name", "name", help: "New tenant name"),
            .flag("no-token", help: "Create the tenant without a first token"),
            .value("unique-external-id", "on|off", help: "Refuse a second live user with the same externalId (default off)"),
            .value("label", "text", help: "Token or OAuth client label"),
            .value("lifetime", "duration", help: "oauth-client: access-token lifetime, 5m to 6h (default 60m)"),
            .value("expires-in", "duration", help: "Token lifetime: seconds, or with s/m/h/d"),
            .value("grace", "duration", help: "How long a rotated token keeps working"),
            .value("reason", "text", help: "Why a token is revoked"),
            .value("wait", "seconds", help: "How long to wait for regions to accept a new link key"),
            .flag("force", help: "Retire a pepper even if credentials still use it (they stop working)"),
            .flag("yes", help: "Confirm a destructive command"),
            .value("tenant", "tenant", help: "Filter the audit log by tenant"),
            .value("limit", "n", help: "Audit entries, events, users, groups, members or request log records to show"),
            .value("after", "id", help: "Audit entries after this id; events, users, groups or members after this cursor"),
            .flag("follow", help: "events, tenant log: keep polling for new ones (Ctrl-C stops); tenant move*: print progress until the move ends"),
            .value("secret-file", "path", help: "webhook set: file holding the endpoint secret to use (else one is generated)"),
            .flag("rotate-secret", help: "webhook set: generate a new secret (shown once)"),
            .value("from", "position", help: "webhook set: where a new endpoint starts: now (default), beginning or a cursor"),
            .flag("skip", help: "webhook redeliver: skip the dead-lettered batch instead of sending it again"),
            .value("file", "path", help: "roles set, mapping set/preview: the JSON document to send"),
            .value("users", "ids", help: "mapping preview: comma-separated user ids to try the mapping on"),
            .value("sample", "n", help: "mapping preview: how many recently changed users to try it on (default 5)"),
            .value("status", "class|code", help: "tenant log: 2xx, 3xx, 4xx, 5xx or a status code"),
            .value("user", "userName", help: "tenant log: requests about this userName (exact)"),
            .value("external-id", "id", help: "tenant log: requests about this externalId (exact)"),
            .value("resource", "id", help: "tenant log: requests about this resource id"),
            .value("method", "method", help: "tenant log: GET, POST, PUT, PATCH or DELETE"),
            .value("since", "time", help: "tenant log, tenant residency: from this RFC 3339 time (e.g. 2026-12-01T09:00:00Z)"),
            .value("until", "time", help: "tenant log, tenant residency: before this RFC 3339 time"),
            .flag("bodies", help: "tenant log: print the redacted request and response bodies"),
            .flag("summary", help: "tenant log: counts of the last --minutes and the last requests"),
            .value("minutes", "n", help: "tenant log --summary: the window (1 to 1440, default 15)"),
            .value("request-log", "mode", help: "tenant create/update: full (default), metadata (no bodies) or off"),
            .value("log-retention", "duration", help: "tenant create/update: request log records older than this are purged (default 14d)"),
            .value("log-max-records", "n", help: "tenant create/update: the request log keeps at most this many records (default 100000)"),
            .value("log-redact", "attrs", help: "tenant create/update: comma-separated attributes never stored in the request log"),
            .value("log-max-body-bytes", "n", help: "tenant create/update: stored bodies are cut to this size (0 to 65536, default 8192)"),
        ],
        epilogue: commands)

    package static func main() -> Int32 {
        let options = spec.parseOrExit()
        do {
            return try run(options)
        } catch let error as UsageError {
            spec.exitWithUsageError(error)
        } catch let error as CLIError {
            writeStandardError("scimctl: \(error.message)\n")
            return 1
        } catch {
            writeStandardError("scimctl: \(error)\n")
            return 1
        }
    }

    struct CLIError: Error { var message: String }

    static func run(_ options: ParsedOptions) throws -> Int32 {
        let args = options.positionals
        guard args.count >= 1 else { throw UsageError("missing command") }
        if args.prefix(2) == ["keyring", "init"] {
            guard args.count == 3 else { throw UsageError("keyring init takes a path") }
            guard access(args[2], F_OK) != 0 else { throw CLIError(message: "\(args[2]) already exists; not overwriting keys") }
            _ = try KeyringFile(path: args[2], createIfMissing: true)
            writeStandardOutput("created \(args[2]) (one current link key, pepper and webhook key); keep it secret\n")
            return 0
        }
        let client = try AdminClient(options)
        let json = options.bool("json")
        func arg(_ i: Int, _ what: String) throws -> String {
            guard i < args.count else { throw UsageError("missing \(what)") }
            return args[i]
        }
        func tenantPath(_ i: Int) throws -> String {
            "/admin/v1/tenants/" + PercentEncoding.encode(try arg(i, "<tenant>"))
        }
        if ["events", "users", "groups", "members"].contains(args[0]) {
            return try readCommand(args, options, client: client, json: json)
        }
        if args[0] == "snapshot" {
            return try snapshotCommand(args, options, client: client)
        }
        if args[0] == "tenant", args.count > 1, moveCommands.contains(args[1]) { return try tenantMoveCommand(args, options, client: client, json: json) }
        if args.prefix(2) == ["tenant", "log"] {
            return try tenantLog(args, options, client: client, json: json)
        }
        let command = args.prefix(2).joined(separator: " ")
        let result: JSONValue?
        switch command {
        case "tenant create":
            var body: JSONObject = ["name": .string(try arg(2, "<name>")), "region": .string(try options.required("region"))]
            if let p = options.string("deprovision") { body.set("deprovisionPolicy", .string(p)) }
            if let limit = try rateLimit(options) { body.set("rateLimit", limit) }
            if options.bool("no-token") { body.set("issueToken", false) }
            if let u = try uniqueExternalID(options) { body.set("uniqueExternalId", .bool(u)) }
            if let log = try requestLogSettings(options) { body.set("requestLog", log) }
            result = try client.call(.post, "/admin/v1/tenants", body: .object(body))
        case "tenant list": result = try client.call(.get, "/admin/v1/tenants")
        case "tenant show": result = try client.call(.get, try tenantPath(2))
        case "tenant update":
            var body = JSONObject()
            if let n = options.string("name") { body.set("name", .string(n)) }
            if let p = options.string("deprovision") { body.set("deprovisionPolicy", .string(p)) }
            if let limit = try rateLimit(options) { body.set("rateLimit", limit) }
            if let u = try uniqueExternalID(options) { body.set("uniqueExternalId", .bool(u)) }
            if let log = try requestLogSettings(options) { body.set("requestLog", log) }
            result = try client.call(.patch, try tenantPath(2), body: .object(body))
        case "tenant quirks": result = try client.call(.get, try tenantPath(2) + "/quirks")
        case "tenant delete":
            guard options.bool("yes") else { throw UsageError("tenant delete removes all of the tenant's data; add --yes") }
            result = try client.call(.delete, try tenantPath(2))
        case "token issue":
            var body = JSONObject()
            if let l = options.string("label") { body.set("label", .string(l)) }
            if let e = options.string("expires-in") { body.set("expiresInSeconds", .number(JSONNumber(try seconds(e, "--expires-in")))) }
            result = try client.call(.post, try tenantPath(2) + "/tokens", body: .object(body))
        case "token list": result = try client.call(.get, try tenantPath(2) + "/tokens")
        case "token rotate":
            var body = JSONObject()
            if let g = options.string("grace") { body.set("graceSeconds", .number(JSONNumber(try seconds(g, "--grace")))) }
            result = try client.call(.post, try tenantPath(2) + "/tokens/" + PercentEncoding.encode(try arg(3, "<token-id>")) + "/rotate",
                                     body: .object(body))
        case "token revoke":
            var body = JSONObject()
            if let r = options.string("reason") { body.set("reason", .string(r)) }
            result = try client.call(.post, try tenantPath(2) + "/tokens/" + PercentEncoding.encode(try arg(3, "<token-id>")) + "/revoke",
                                     body: .object(body))
        case "oauth-client create", "oauth-client update":
            var body = JSONObject()
            if let l = options.string("label") { body.set("label", .string(l)) }
            if let l = options.string("lifetime") { body.set("tokenLifetimeSeconds", .number(JSONNumber(try seconds(l, "--lifetime")))) }
            if command == "oauth-client create" {
                result = try client.call(.post, try tenantPath(2) + "/oauth-clients", body: .object(body))
            } else {
                result = try client.call(.patch, try tenantPath(2) + "/oauth-clients/" + PercentEncoding.encode(try arg(3, "<client-id>")),
                                         body: .object(body))
            }
        case "setup-link create":
            var body = JSONObject()
            if let l = options.string("label") { body.set("label", .string(l)) }
            if let e = options.string("expires-in") { body.set("expiresInSeconds", .number(JSONNumber(try seconds(e, "--expires-in")))) }
            result = try client.call(.post, try tenantPath(2) + "/setup-links", body: .object(body))
        case "setup-link list": result = try client.call(.get, try tenantPath(2) + "/setup-links")
        case "setup-link revoke":
            result = try client.call(.post, try tenantPath(2) + "/setup-links/" + PercentEncoding.encode(try arg(3, "<link-id>")) + "/revoke")
        case "oauth-client list": result = try client.call(.get, try tenantPath(2) + "/oauth-clients")
        case "oauth-client rotate":
            var body = JSONObject()
            if let g = options.string("grace") { body.set("graceSeconds", .number(JSONNumber(try seconds(g, "--grace")))) }
            result = try client.call(.post, try tenantPath(2) + "/oauth-clients/" + PercentEncoding.encode(try arg(3, "<client-id>"))
                                     + "/rotate-secret", body: .object(body))
        case "oauth-client revoke":
            var body = JSONObject()
            if let r = options.string("reason") { body.set("reason", .string(r)) }
            result = try client.call(.post, try tenantPath(2) + "/oauth-clients/" + PercentEncoding.encode(try arg(3, "<client-id>"))
                                     + "/revoke", body: .object(body))
        case "integration deactivate": result = try client.call(.post, try tenantPath(2) + "/integration/deactivate")
        case "integration reactivate": result = try client.call(.post, try tenantPath(2) + "/integration/reactivate")
        case "integration update-token": result = try client.call(.post, try tenantPath(2) + "/integration/token")
        case "webhook set":
            var body: JSONObject = ["url": .string(try arg(3, "<https-url>"))]
            if let path = options.string("secret-file") {
                guard let bytes = readFileBytes(path) else { throw CLIError(message: "cannot read \(path)") }
                body.set("secret", .string(String(decoding: bytes, as: UTF8.self).trimmingWhitespace()))
            }
            if options.bool("rotate-secret") { body.set("rotateSecret", true) }
            if let from = options.string("from") { body.set("from", .string(from)) }
            result = try client.call(.put, try tenantPath(2) + "/webhook", body: .object(body))
        case "webhook show": result = try client.call(.get, try tenantPath(2) + "/webhook")
        case "webhook redeliver":
            var body = JSONObject()
            if options.bool("skip") { body.set("skip", true) }
            if let after = options.string("after") { body.set("after", .string(after)) }
            result = try client.call(.post, try tenantPath(2) + "/webhook/redeliver", body: .object(body))
        case "webhook delete":
            guard options.bool("yes") else { throw UsageError("webhook delete stops deliveries to the endpoint; add --yes") }
            result = try client.call(.delete, try tenantPath(2) + "/webhook")
        case "user \(args.count > 1 ? args[1] : "")":
            result = try client.call(.get, try tenantPath(1) + "/users/" + PercentEncoding.encode(try arg(2, "<user-id>")))
        case "roles show": result = try client.call(.get, try tenantPath(2) + "/roles")
        case "roles set": result = try client.call(.put, try tenantPath(2) + "/roles", body: try jsonFile(options))
        case "roles delete":
            guard options.bool("yes") else { throw UsageError("roles delete removes every user's roles; add --yes") }
            result = try client.call(.delete, try tenantPath(2) + "/roles")
        case "mapping show": result = try client.call(.get, try tenantPath(2) + "/attribute-mapping")
        case "mapping set": result = try client.call(.put, try tenantPath(2) + "/attribute-mapping", body: try jsonFile(options))
        case "mapping delete":
            guard options.bool("yes") else { throw UsageError("mapping delete clears every user's profile; add --yes") }
            result = try client.call(.delete, try tenantPath(2) + "/attribute-mapping")
        case "mapping preview":
            var body: JSONObject = ["mapping": try jsonFile(options)]
            if let users = options.string("users") {
                body.set("users", .array(users.split(separator: ",").map { .string(String($0).trimmingWhitespace()) }))
            }
            if let sample = try options.int("sample", in: 1...50) { body.set("sample", .number(JSONNumber(sample))) }
            result = try client.call(.post, try tenantPath(2) + "/attribute-mapping/preview", body: .object(body))
        case "keys list": result = try client.call(.get, "/admin/v1/keys")
        case "keys rotate":
            let purpose = try arg(2, "pepper|link")
            guard purpose == "pepper" || purpose == "link" else { throw UsageError("keys rotate takes pepper or link") }
            let wait = options.string("wait").map { "?waitSeconds=" + $0 } ?? ""
            result = try client.call(.post, "/admin/v1/keys/\(purpose)/rotate" + wait, timeout: .seconds(90))
        case "keys promote":
            guard try arg(2, "link") == "link" else { throw UsageError("only link keys are staged and promoted") }
            let wait = options.string("wait").map { "?waitSeconds=" + $0 } ?? ""
            result = try client.call(.post, "/admin/v1/keys/link/promote" + wait, timeout: .seconds(90))
        case "keys retire":
            let purpose = try arg(2, "pepper|link")
            guard purpose == "pepper" || purpose == "link" else { throw UsageError("keys retire takes pepper or link") }
            result = try client.call(.post, "/admin/v1/keys/\(purpose)/\(PercentEncoding.encode(try arg(3, "<key-id>")))/retire"
                                     + (options.bool("force") ? "?force=true" : ""))
        case "audit", "audit \(args.count > 1 ? args[1] : "")":
            var query: [(name: String, value: String)] = []
            if let t = options.string("tenant") { query.append(("tenant", t)) }
            if let l = options.string("limit") { query.append(("limit", l)) }
            if let a = options.string("after") { query.append(("after", a)) }
            let q = query.isEmpty ? "" : "?" + QueryParameters(query).encoded
            result = try client.call(.get, "/admin/v1/audit" + q)
        case "regions", "regions \(args.count > 1 ? args[1] : "")":
            result = try client.call(.get, "/admin/v1/regions")
        default:
            throw UsageError("unknown command '\(command)'\n\n\(commands)")
        }
        guard let result else {
            if !json { writeStandardOutput("ok\n") }
            return 0
        }
        writeStandardOutput(json ? String(decoding: result.encoded(), as: UTF8.self) + "\n" : render(result, command: command))
        return 0
    }

    static func rateLimit(_ options: ParsedOptions) throws -> JSONValue? {
        let rate = try options.int("rate", in: 0...1_000_000)
        let burst = try options.int("burst", in: 0...1_000_000)
        if rate == nil && burst == nil { return nil }
        var o = JSONObject()
        if let rate { o.set("perSecond", .number(JSONNumber(rate))) }
        if let burst { o.set("burst", .number(JSONNumber(burst))) }
        return .object(o)
    }

    /// `--unique-external-id on|off` (also true/false, yes/no).
    static func uniqueExternalID(_ options: ParsedOptions) throws -> Bool? {
        guard let text = options.string("unique-external-id") else { return nil }
        switch text.lowercased() {
        case "on", "true", "yes": return true
        case "off", "false", "no": return false
        default: throw UsageError("--unique-external-id takes on or off")
        }
    }

    /// `3600`, `90s`, `15m`, `12h`, `90d` as whole seconds.
    static func seconds(_ text: String, _ option: String) throws -> Int {
        guard let d = Duration.parse(text), d.components.attoseconds == 0 else {
            throw UsageError("\(option) expects seconds or a number with s, m, h or d (e.g. 24h)")
        }
        return Int(d.components.seconds)
    }

    // MARK: - Text output

    static func render(_ value: JSONValue, command: String) -> String {
        var lines: [String] = []
        func tenantLine(_ t: JSONValue) -> String {
            "\(t["id"]?.string ?? "")  \(t["name"]?.string ?? "")  region=\(t["region"]?.string ?? "")  "
                + "integration=\(t["integrationState"]?.string ?? "")  deprovision=\(t["deprovisionPolicy"]?.string ?? "")"
        }
        func tokenLine(_ t: JSONValue) -> String {
            "\(t["id"]?.string ?? "")  \(t["status"]?.string ?? "")  label=\(t["label"]?.string ?? "-")  "
                + "created=\(t["createdAt"]?.string ?? "")  lastUsed=\(t["lastUsedAt"]?.string ?? "never")"
                + (t["expiresAt"]?.string.map { "  expires=\($0)" } ?? "")
        }
        func issued(_ t: JSONValue) {
            lines.append("token id:    \(t["id"]?.string ?? "")")
            lines.append("SCIM URL:    \(t["scimBaseURL"]?.string ?? "")")
            lines.append("token:       \(t["token"]?.string ?? "")")
            lines.append("  (as API_KEY:SCIM_KEY for clients that ask for two fields: \(t["apiKey"]?.string ?? ""):\(t["scimKey"]?.string ?? ""))")
            lines.append("Store the token now: it is shown only once.")
        }
        func clientLine(_ c: JSONValue) -> String {
            "\(c["clientId"]?.string ?? "")  \(c["status"]?.string ?? "")  label=\(c["label"]?.string ?? "-")  "
                + "lifetime=\(c["tokenLifetimeSeconds"]?.int ?? 0)s  liveAccessTokens=\(c["liveAccessTokens"]?.int ?? 0)  "
                + "lastToken=\(c["lastTokenIssuedAt"]?.string ?? "never")"
                + (c["previousSecretValidUntil"]?.string.map { "  previousSecretUntil=\($0)" } ?? "")
        }
        func linkLine(_ l: JSONValue) -> String {
            "\(l["id"]?.string ?? "")  \(l["status"]?.string ?? "")  label=\(l["label"]?.string ?? "-")  "
                + "expires=\(l["expiresAt"]?.string ?? "")  opened=\(l["opened"]?.int ?? 0)"
        }
        if let recompute = value["recompute"] {
            // roles show|set|delete, mapping show|set|delete
            let stored = value["config"] ?? value["mapping"] ?? .null
            lines.append("version \(value["version"]?.int ?? 0)  updated \(value["updatedAt"]?.string ?? "never")")
            var job = "recompute: \(recompute["state"]?.string ?? "")"
            if recompute["state"]?.string != "none" {
                job += "  \(recompute["processed"]?.int ?? 0)/\(recompute["total"]?.int.map(String.init) ?? "?") users"
                    + "  \(recompute["changed"]?.int ?? 0) changed  (\(recompute["reason"]?.string ?? ""))"
                if let e = recompute["lastError"]?.string { job += "  last error: \(e)" }
            }
            lines.append(job)
            lines.append(stored.isNull ? "(none)" : String(decoding: stored.encoded(), as: UTF8.self))
            return lines.joined(separator: "\n") + "\n"
        }
        if let coverage = value["coverage"]?.object {
            // mapping preview
            for u in value["users"]?.array ?? [] {
                lines.append("\(u["id"]?.string ?? "")  \(u["userName"]?.string ?? "")")
                lines.append("  profile:  " + String(decoding: (u["profile"] ?? .null).encoded(), as: UTF8.self))
                if let changed = u["changed"]?.array, !changed.isEmpty {
                    lines.append("  changes:  " + changed.compactMap(\.string).joined(separator: ", "))
                }
                for p in u["problems"]?.array ?? [] { lines.append("  problem:  \(p.string ?? "")") }
                if let unmapped = u["unmapped"]?.array, !unmapped.isEmpty {
                    lines.append("  unmapped: " + unmapped.compactMap(\.string).joined(separator: ", "))
                }
            }
            lines.append("coverage: " + coverage.map { "\($0.key)=\($0.value.int ?? 0)" }.joined(separator: "  "))
            return lines.joined(separator: "\n") + "\n"
        }
        if let links = value["setupLinks"]?.array {
            lines = links.map(linkLine)
            if lines.isEmpty { lines = ["no setup links"] }
        } else if let url = value["url"]?.string, value["path"] != nil {
            lines.append("setup link:  \(url)")
            lines.append("expires:     \(value["expiresAt"]?.string ?? "")")
            lines.append("Send it to the customer's IT admin now: it is shown only once.")
        } else if let clients = value["oauthClients"]?.array {
            lines = clients.map(clientLine)
            if lines.isEmpty { lines = ["no OAuth clients"] }
        } else if value["clientId"] != nil {
            if let secret = value["clientSecret"]?.string {
                lines.append("token endpoint: \(value["tokenEndpoint"]?.string ?? "")")
                lines.append("SCIM URL:       \(value["scimBaseURL"]?.string ?? "")")
                lines.append("client id:      \(value["clientId"]?.string ?? "")")
                lines.append("client secret:  \(secret)")
                lines.append("access tokens live \(value["tokenLifetimeSeconds"]?.int ?? 0) s")
                if let grace = value["previousSecretValidForSeconds"]?.int {
                    lines.append("the previous secret keeps working for \(grace) s")
                }
                lines.append("Store the client secret now: it is shown only once.")
            } else {
                lines.append(clientLine(value))
            }
        } else if let quirks = value["quirks"]?.array {
            lines.append("tenant \(value["tenantName"]?.string ?? "") (\(value["tenantId"]?.string ?? ""))  region=\(value["region"]?.string ?? "")")
            if quirks.isEmpty {
                lines.append("no IdP quirks seen: its IdP speaks plain RFC 7644 so far (or has not synced yet)")
            }
            for q in quirks {
                let senders = (q["knownSenders"]?.array ?? []).compactMap(\.string).joined(separator: ", ")
                lines.append("\(q["quirk"]?.string ?? "")  count=\(q["count"]?.int64 ?? 0)  first=\(q["firstSeen"]?.string ?? "")"
                             + "  last=\(q["lastSeen"]?.string ?? "")  sent by: \(senders)")
            }
        } else if let tenants = value["tenants"]?.array {
            lines = tenants.map(tenantLine)
            if lines.isEmpty { lines = ["no tenants"] }
        } else if let tokens = value["tokens"]?.array {
            lines = tokens.map(tokenLine)
            if lines.isEmpty { lines = ["no tokens"] }
        } else if let entries = value["entries"]?.array {
            lines = entries.map { e in
                "\(e["id"]?.int64 ?? 0)  \(e["at"]?.string ?? "")  \(e["actor"]?.string ?? "")  \(e["action"]?.string ?? "")"
                    + (e["tenantId"]?.string.map { "  tenant=\($0)" } ?? "") + (e["tokenId"]?.string.map { "  token=\($0)" } ?? "")
            }
        } else if let regions = value["regions"]?.array {
            lines = regions.map { r in
                "\(r["id"]?.string ?? "")  \(r["publicBaseURL"]?.string ?? "")  backend=\(r["backend"]?.string ?? "")  ready=\(r["ready"]?.bool ?? false)"
            }
        } else if value["secretKeyId"] != nil {
            lines.append("url:        \(value["url"]?.string ?? "")")
            lines.append("state:      \(value["state"]?.string ?? "")  attempts=\(value["attempts"]?.int ?? 0)"
                         + "  backlog=\(value["backlog"]?.int ?? 0)\(value["backlogIsLowerBound"]?.bool == true ? "+" : "")"
                         + "  delivered=\(value["deliveredEvents"]?.int ?? 0)")
            lines.append("cursor:     \(value["cursor"]?.string ?? "")")
            if let e = value["lastError"]?.string { lines.append("last error: \(e) (\(value["lastAttemptAt"]?.string ?? ""))") }
            if let secret = value["secret"]?.string {
                lines.append("secret:     \(secret)")
                lines.append("Store the secret now: it is shown only once. Receivers verify Scim-Gateway-Signature with it.")
            }
            for d in value["deadLetters"]?.array ?? [] {
                lines.append("dead letter \(d["id"]?.int ?? 0): \(d["eventCount"]?.int ?? 0) events up to \(d["lastEventId"]?.string ?? "")"
                             + "  attempts=\(d["attempts"]?.int ?? 0)  \(d["lastError"]?.string ?? "")"
                             + "  \(d["resolution"]?.string ?? "open")")
            }
        } else if value["link"] != nil {
            for purpose in ["link", "pepper"] {
                for k in value[purpose]?.array ?? [] {
                    lines.append("\(purpose)  \(k["id"]?.string ?? "")  \(k["state"]?.string ?? "")"
                                 + (k["credentialsUsingIt"]?.int.map { "  credentials=\($0)" } ?? ""))
                }
            }
        } else if let tenant = value["tenant"] {
            lines.append("tenant:      " + tenantLine(tenant))
            if let token = value["token"] { issued(token) }
        } else if let token = value["token"], token["token"] != nil {
            issued(token)
            if let prev = value["previousTokenId"]?.string {
                lines.append("previous token \(prev) keeps working for \(value["previousTokenValidForSeconds"]?.int ?? 0) s")
            }
        } else if value["token"] != nil && value["token"]?.string != nil {
            issued(value)
        } else if value["integrationState"] != nil {
            lines.append(tenantLine(value))
        } else if value["status"] != nil && value["id"] != nil {
            lines.append(tokenLine(value))
        } else {
            lines.append(String(decoding: value.encoded(), as: UTF8.self))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension ScimctlCommand {
    /// The JSON document named by `--file`.
    static func jsonFile(_ options: ParsedOptions) throws -> JSONValue {
        guard let path = options.string("file") else { throw UsageError("--file <path> is required (a JSON document)") }
        guard let bytes = readFileBytes(path) else { throw CLIError(message: "cannot read \(path)") }
        do {
            return try JSONDecoder.decode(bytes)
        } catch {
            throw CLIError(message: "\(path) is not JSON: \(error)")
        }
    }

    /// `snapshot`: takes a reconciliation snapshot, writes every record as one JSON line on stdout (the first line
    /// describes the snapshot: `{"snapshot": {"eventCursor", "takenAt", "counts"}}`, then `{"user": …}`,
    /// `{"group": …}`, `{"membership": …}`), releases it, and tells on stderr where to resume the events feed.
    static func snapshotCommand(_ args: [String], _ options: ParsedOptions, client: AdminClient) throws -> Int32 {
        guard args.count >= 2 else { throw UsageError("missing <tenant>") }
        let base = "/admin/v1/tenants/" + PercentEncoding.encode(args[1]) + "/snapshots"
        let created = try client.call(.post, base) ?? .null
        guard let token = created["snapshot"]?.string, let cursor = created["eventCursor"]?.string else {
            throw CLIError(message: "the region did not return a snapshot")
        }
        var header = JSONObject()
        for key in ["eventCursor", "takenAt", "expiresAt", "counts"] { if let v = created[key] { header.set(key, v) } }
        writeStandardOutput(String(decoding: JSONValue.object(["snapshot": .object(header)]).encoded(), as: UTF8.self) + "\n")
        let limit = options.string("limit") ?? "1000"
        var after: String? = nil
        var counts = (users: 0, groups: 0, memberships: 0)
        repeat {
            var query: [(name: String, value: String)] = [("limit", limit)]
            if let after { query.append(("after", after)) }
            let page = try client.call(.get, base + "/" + token + "?" + QueryParameters(query).encoded, timeout: .seconds(120)) ?? .null
            var lines = ""
            for (key, single) in [("users", "user"), ("groups", "group"), ("memberships", "membership")] {
                for item in page[key]?.array ?? [] {
                    lines += String(decoding: JSONValue.object([single: item]).encoded(), as: UTF8.self) + "\n"
                }
            }
            counts.users += page["users"]?.array?.count ?? 0
            counts.groups += page["groups"]?.array?.count ?? 0
            counts.memberships += page["memberships"]?.array?.count ?? 0
            writeStandardOutput(lines)
            after = page["next"]?.string
        } while after != nil
        _ = try? client.call(.delete, base + "/" + token)
        writeStandardError("snapshot at \(created["takenAt"]?.string ?? ""): \(counts.users) users, \(counts.groups) groups, "
                           + "\(counts.memberships) memberships\nresume the events with: scimctl events \(args[1]) --after \(cursor) --follow\n")
        return 0
    }

    /// `events`, `users`, `groups`, `members`: one page (or, with `events --follow`, every page as it comes).
    static func readCommand(_ args: [String], _ options: ParsedOptions, client: AdminClient, json: Bool) throws -> Int32 {
        guard args.count >= 2 else { throw UsageError("missing <tenant>") }
        var path = "/admin/v1/tenants/" + PercentEncoding.encode(args[1]) + "/"
        switch args[0] {
        case "members":
            guard args.count >= 3 else { throw UsageError("missing <group-id>") }
            path += "groups/" + PercentEncoding.encode(args[2]) + "/members"
        default:
            path += args[0]
        }
        var after = options.string("after")
        let limit = options.string("limit")
        let follow = args[0] == "events" && options.bool("follow")
        while true {
            var query: [(name: String, value: String)] = []
            if let after { query.append(("after", after)) }
            if let limit { query.append(("limit", limit)) }
            let page = try client.call(.get, path + (query.isEmpty ? "" : "?" + QueryParameters(query).encoded)) ?? .null
            if json {
                writeStandardOutput(String(decoding: page.encoded(), as: UTF8.self) + "\n")
            } else {
                writeStandardOutput(renderPage(page, kind: args[0], showNext: !follow))
            }
            guard follow else { return 0 }
            after = page["next"]?.string ?? after
            if page["hasMore"]?.bool != true { usleep(1_000_000) }
        }
    }

    static func renderPage(_ page: JSONValue, kind: String, showNext: Bool) -> String {
        var lines: [String] = []
        switch kind {
        case "events":
            for e in page["events"]?.array ?? [] {
                let data = e["data"]
                let subject = data?["user"] ?? data?["group"]
                let name = subject?["userName"]?.string ?? subject?["displayName"]?.string ?? ""
                let members = data?["members"]?.array.map { "  members=\($0.count)" } ?? ""
                lines.append("\(e["id"]?.string ?? "")  \(e["occurredAt"]?.string ?? "")  \(e["type"]?.string ?? "")  "
                             + "\(subject?["id"]?.string ?? "")  \(name)\(members)")
            }
        case "users":
            for u in page["users"]?.array ?? [] {
                lines.append("\(u["id"]?.string ?? "")  \(u["userName"]?.string ?? "")  active=\(u["active"]?.bool.map { "\($0)" } ?? "-")"
                             + "  groups=\(u["groups"]?.array?.count ?? 0)"
                             + "  roles=\((u["effectiveRoles"]?.array ?? []).compactMap(\.string).joined(separator: ","))")
            }
        case "groups":
            for g in page["groups"]?.array ?? [] { lines.append("\(g["id"]?.string ?? "")  \(g["displayName"]?.string ?? "")") }
        default:
            for m in page["members"]?.array ?? [] {
                lines.append("\(m["value"]?.string ?? "")  \(m["type"]?.string ?? "")  \(m["display"]?.string ?? "")")
            }
        }
        if showNext {
            let next = page["next"]?.string
            lines.append(next.map { "next: --after \($0)" + (kind == "events" && page["hasMore"]?.bool != true ? " (caught up)" : "") }
                         ?? "(last page)")
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }
}
