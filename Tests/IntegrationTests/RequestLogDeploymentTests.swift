#if canImport(Glibc)
import Glibc
#endif
import Crypto
import HTTPCore
import JSON
import NetIO
import Postgres
import Testing
import TestSupport

/// Issue 17, the request log, through real processes (gateway, both regions, PostgreSQL): where the records live,
/// what they never hold, the gateway's own refusals, per-tenant settings and retention, the admin API and scimctl.
@Suite(.serialized) struct RequestLogDeploymentTests {
    /// The records of `GET /admin/v1/tenants/{tenant}/request-log?query` once `count` of them are there.
    static func records(_ d: Deployment, _ tenant: String, _ query: String = "", atLeast count: Int,
                        timeoutMillis: Int = 20_000, sourceLocation: SourceLocation = #_sourceLocation) throws -> [JSONValue] {
        let deadline = monotonicMillis() + timeoutMillis
        var last: [JSONValue] = []
        while monotonicMillis() < deadline {
            let (status, page) = try d.admin(.get, "/admin/v1/tenants/\(tenant)/request-log" + (query.isEmpty ? "" : "?" + query))
            #expect(status == 200, "\(page.map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "")", sourceLocation: sourceLocation)
            last = page?["records"]?.array ?? []
            if last.count >= count { return last }
            sleepMillis(100)
        }
        Issue.record("only \(last.count) of \(count) records appeared for ?\(query)", sourceLocation: sourceLocation)
        return last
    }

    /// Every row of every table of the control plane, as text.
    static func controlRowsText(_ d: Deployment) throws -> String {
        let control = try PostgresConnection(configuration: d.control.adminConfiguration)
        let tables = try control.query("SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
        var text = ""
        for i in 0..<tables.rowCount {
            let rows = try control.query("SELECT t::text FROM \(tables.string(row: i, column: 0)!) t")
            for row in 0..<rows.rowCount { text += (rows.string(row: row, column: 0) ?? "") + "\n" }
        }
        return text
    }

    /// Rows of a region's request log (as the superuser: what is really stored).
    static func logRows(_ d: Deployment, _ region: String, _ condition: String = "true", _ values: [PostgresValue] = []) throws -> [String] {
        let rows = try d.regionAdmin(region).query("SELECT r::text FROM request_log r WHERE \(condition)", values)
        return (0..<rows.rowCount).map { rows.string(row: $0, column: 0) ?? "" }
    }

    @Test func recordsStayInTheHomeRegionAndHoldNoSecret() throws {
        let d = try Deployment("reqlog_home")
        defer { d.stop() }
        let us = try d.createTenant("log-us", region: "us")
        let eu = try d.createTenant("log-eu", region: "eu2")
        let stamp = "\(monotonicMillis())-\(Base62.random(6))"
        let usName = "pii-\(stamp)@us.example.com", euName = "pii-\(stamp)@eu.example.com"
        let password = "Sup3r-Secret-Passw0rd-\(stamp)"
        // An OAuth client's secret and access token, an IdP that pasted its own token and that secret into fields the
        // directory does not keep (unknown attributes are dropped; the request log sees them), and a hostile display
        // name that must come back as data.
        let client = try OAuthClientCredentialsTests.createClient(d, tenant: us.id)
        let access = try OAuthClientCredentialsTests.accessToken(d, client)
        let hostile = "<script>alert('x')</script>\"; DROP TABLE request_log;-- \u{2028}"
        var body = userBody(usName, externalId: "ext-\(stamp)").object!
        body.appendUnchecked(key: "password", value: .string(password))
        body.appendUnchecked(key: "notes", value: .string("pasted by mistake: " + us.token))
        body.appendUnchecked(key: "oauthClientSecret", value: .string(client.secret))
        body.appendUnchecked(key: "displayName", value: .string(hostile))
        let created = try d.scim(.post, "/scim/v2/Users", token: access, body: .object(body))
        #expect(created.status.code == 201, "\(created.bodyText)")
        let id = try #require(json(created)?["id"]?.string)
        #expect(try d.scim(.get, "/scim/v2/Users?filter=" + PercentEncoding.encode("userName eq \"\(usName)\""), token: us.token).status.code == 200)
        #expect(try d.scim(.patch, "/scim/v2/Users/\(id)", token: us.token, body: [
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [["op": "replace", "path": "password", "value": .string(password + "-2")]]]).status.code == 200)
        #expect(try d.scim(.post, "/scim/v2/Users", token: eu.token, body: userBody(euName)).status.code == 201)

        let usRecords = try Self.records(d, us.id, "userName=" + PercentEncoding.encode(usName), atLeast: 3)
        #expect(Set(usRecords.compactMap { $0["method"]?.string }) == ["POST", "GET", "PATCH"])
        #expect(usRecords.allSatisfy { $0["source"] == "region" })
        let post = try #require(usRecords.first { $0["method"] == "POST" })
        #expect(post["resourceId"]?.string == id && post["externalId"]?.string == "ext-\(stamp)")
        // The hostile name is stored as data: intact inside the redacted JSON, and the table is still there.
        let stored = try #require(post["request"]?["body"]?.string)
        #expect(try JSONDecoder.decode(stored)["displayName"]?.string == hostile)
        #expect(post["displayName"]?.string == hostile)
        #expect(try JSONDecoder.decode(stored)["password"] == "[REDACTED]")
        _ = try Self.records(d, eu.id, "userName=" + PercentEncoding.encode(euName), atLeast: 1)

        // Where each userName is: only in its home region's database (directory and request log); nowhere in the
        // other region, nowhere in the control plane.
        let usText = try allRowsText(d, region: "us"), euText = try allRowsText(d, region: "eu2"), controlText = try Self.controlRowsText(d)
        #expect(try Self.logRows(d, "us", "user_name = $1", [.text(usName)]).count == 3)
        #expect(usText.contains(usName) && !euText.contains(usName) && !controlText.contains(usName))
        #expect(euText.contains(euName) && !usText.contains(euName) && !controlText.contains(euName))
        #expect(usText.contains("ext-\(stamp)") && !euText.contains("ext-\(stamp)") && !controlText.contains("ext-\(stamp)"))
        // No credential in any row of any database: tokens, the OAuth secret and access token, the passwords.
        let secrets = secretForms([us.token, eu.token], admin: d.adminToken) + [client.secret, access, password, password + "-2"]
        expectNoSecrets(secrets, in: usText + euText + controlText, place: "the databases")
        expectNoSecrets(secrets, in: d.logs, place: "the process logs")
    }

    @Test func requestsTheGatewayRefusesReachTheHomeRegionsLog() throws {
        let d = try Deployment("reqlog_refused", gatewayArguments: ["--rate-limit-max-delay", "0"])
        defer { d.stop() }
        let limited = try d.createTenant("log-limited", region: "us", rateLimit: 1)
        let off = try d.createTenant("log-deactivated", region: "eu2")
        let stamp = "\(monotonicMillis())"
        // Deactivated: 401 from the gateway, and its record (with the body's userName) in eu2's log only.
        #expect(try d.admin(.post, "/admin/v1/tenants/\(off.id)/integration/deactivate").0 == 200)
        let ghost = "ghost-\(stamp)@example.com"
        #expect(try d.scim(.post, "/scim/v2/Users", token: off.token, body: userBody(ghost)).status.code == 401)
        // Rate-limited: over 1 request/s without waiting, 429.
        var statuses: [Int] = []
        for _ in 0..<5 { statuses.append(try d.scim(.get, "/scim/v2/Users?count=1", token: limited.token).status.code) }
        #expect(statuses.contains(429))
        sleepMillis(1100)
        // Misdirected: a us tenant on the eu2 host.
        #expect(try d.scim(.get, "/scim/v2/Users?count=1", token: limited.token, host: "eu2-api.example.com").status.code == 421)
        // An unknown token: not attributable, counted only (and nowhere in either region's log).
        let marker = "unattributed-\(stamp)"
        var unknown = HTTPRequest(method: .get, target: "/scim/v2/Users", headers: ["Authorization": "Bearer scim_nope", "X-Request-Id": marker])
        unknown.headers.add("Accept", "application/scim+json")
        #expect(try HTTPClient(host: "127.0.0.1", port: d.gateways[0].port).send(unknown, timeout: .seconds(10)).status.code == 401)

        let refused = try Self.records(d, off.id, "source=gateway", atLeast: 1)
        #expect(refused.first?["outcome"] == "integration-deactivated" && refused.first?["status"] == 401)
        #expect(refused.first?["userName"]?.string == ghost && refused.first?["route"] == "/scim/v2/Users")
        #expect(refused.first?["request"]?["body"]?.string?.contains(ghost) == true)
        #expect(refused.first?["response"]?["body"]?.string?.contains("integration deactivated") == true)
        #expect(try Self.logRows(d, "eu2", "user_name = $1", [.text(ghost)]).count == 1)
        let usText = try allRowsText(d, region: "us"), controlText = try Self.controlRowsText(d)
        #expect(!usText.contains(ghost) && !controlText.contains(ghost))
        // Nothing reached the directory.
        #expect(!(try allRowsText(d, region: "eu2", excluding: ["request_log"])).contains(ghost))

        let limitedRecords = try Self.records(d, limited.id, "source=gateway&status=429", atLeast: 1)
        #expect(limitedRecords.allSatisfy { $0["outcome"] == "rate-limited" })
        let misdirected = try Self.records(d, limited.id, "source=gateway&status=421", atLeast: 1)
        #expect(misdirected.first?["outcome"] == "misdirected" && misdirected.first?["detail"]?.string?.contains("api.example.com") == true)
        #expect(try Self.logRows(d, "us", "request_id = $1", [.text(marker)]).isEmpty)
        #expect(try Self.logRows(d, "eu2", "request_id = $1", [.text(marker)]).isEmpty)
        let (_, summary) = try d.admin(.get, "/admin/v1/tenants/\(limited.id)/request-log/summary?minutes=5")
        #expect((summary?["byOutcome"]?["rate-limited"]?.int ?? 0) >= 1 && summary?["byOutcome"]?["misdirected"] == 1)
        #expect((summary?["byClass"]?["4xx"]?.int ?? 0) >= 2)

        // The home region down: the gateway answers 503 itself and keeps the records until the region is back.
        let down = try d.createTenant("log-down", region: "eu2")
        d.stopRegion("eu2")
        for _ in 0..<8 { #expect(try d.scim(.get, "/scim/v2/Users?count=1", token: down.token).status.code == 503) }
        sleepMillis(1500)
        try d.startRegion("eu2")
        let unavailable = try Self.records(d, down.id, "source=gateway&status=503", atLeast: 8)
        #expect(unavailable.allSatisfy { ($0["outcome"]?.string ?? "").hasPrefix("upstream-") || $0["outcome"] == "circuit-open" },
                "\(unavailable.map { $0["outcome"]?.string ?? "-" })")
        #expect(unavailable.contains { $0["outcome"] == "circuit-open" })

        let metrics = try HTTPClient(host: "127.0.0.1", port: d.gateways[0].adminPort)
            .send(HTTPRequest(method: .get, target: "/metrics"), timeout: .seconds(10)).bodyText
        #expect(metrics.contains("scim_gateway_request_log_unattributed_total{reason=\"auth-"))
        #expect(metrics.contains("scim_gateway_request_log_shipped_total "))
        #expect(!metrics.contains("scim_gateway_request_log_dropped_total{"), "nothing was dropped")
    }

    @Test func settingsRetentionAdminAPIAndScimctl() throws {
        let d = try Deployment("reqlog_admin", regionArguments: ["--request-log-purge-interval", "1s"])
        defer { d.stop() }
        let t = try d.createTenant("log-admin", region: "us")
        let short = try d.createTenant("log-short", region: "eu2")
        // Settings go with the tenant to its region, merged key by key; bad ones are refused with the region's reason.
        var (status, tenant) = try d.admin(.patch, "/admin/v1/tenants/\(short.id)", ["requestLog": ["retentionSeconds": 2]])
        #expect(status == 200 && tenant?["settings"]?["requestLog"]?["retentionSeconds"] == 2)
        (status, tenant) = try d.admin(.patch, "/admin/v1/tenants/\(t.id)", ["requestLog": ["maxRecords": 5, "redactAttributes": ["title"]]])
        #expect(status == 200)
        (status, tenant) = try d.admin(.patch, "/admin/v1/tenants/\(t.id)", ["requestLog": ["mode": "full"]])
        let merged = tenant?["settings"]?["requestLog"]
        #expect(merged?["maxRecords"] == 5 && merged?["redactAttributes"] == ["title"] && merged?["mode"] == "full", "\(String(describing: merged))")
        let (bad, error) = try d.admin(.patch, "/admin/v1/tenants/\(t.id)", ["requestLog": ["mode": "verbose"]])
        #expect(bad == 400 && error?["message"]?.string?.contains("requestLog.mode") == true, "\(String(describing: error))")

        for i in 0..<4 { #expect(try d.scim(.post, "/scim/v2/Users", token: short.token, body: userBody("short-\(i)@example.com")).status.code == 201) }
        var ids: [String] = []
        for i in 0..<12 {
            var body = userBody("kept-\(i)@example.com").object!
            body.appendUnchecked(key: "title", value: .string("Head of Secrets \(i)"))
            ids.append(try #require(json(try d.scim(.post, "/scim/v2/Users", token: t.token, body: .object(body)))?["id"]?.string))
        }
        for _ in 0..<2 { #expect(try d.scim(.get, "/scim/v2/Users/\(SecureRandom.uuid())", token: t.token).status.code == 404) }
        _ = try Self.records(d, t.id, atLeast: 5)
        // Retention: the short tenant's records go after 2 s, the other keeps its newest 5 (the purge runs every second).
        var shortLeft = -1, kept = -1
        for _ in 0..<100 {
            shortLeft = try Self.logRows(d, "eu2", "tenant_id = $1::uuid", [.text(short.id)]).count
            kept = try Self.logRows(d, "us", "tenant_id = $1::uuid", [.text(t.id)]).count
            if shortLeft == 0 && kept == 5 { break }
            sleepMillis(200)
        }
        #expect(shortLeft == 0 && kept == 5, "short tenant: \(shortLeft) records left, count-limited tenant: \(kept)")
        #expect(!(try Self.logRows(d, "us", "tenant_id = $1::uuid", [.text(t.id)]).joined().contains("Head of Secrets")))

        // Filters and errors through the admin API.
        let (code, notFound) = try d.admin(.get, "/admin/v1/tenants/\(t.id)/request-log?status=404")
        #expect(code == 200 && notFound?["records"]?.array?.count == 2)
        let (badCode, badFilter) = try d.admin(.get, "/admin/v1/tenants/\(t.id)/request-log?status=6xx")
        #expect(badCode == 400 && badFilter?["error"] == "invalid_request" && badFilter?["message"]?.string?.contains("status") == true)
        #expect(try d.admin(.get, "/admin/v1/tenants/no-such-tenant/request-log").0 == 404)

        // scimctl over the same API.
        let scimctl = "\(binaryDirectory())/scimctl --url http://127.0.0.1:\(d.gateways[0].adminPort) --admin-token-file \(d.directory)/admin-token"
        var (exit, output) = runShell("\(scimctl) tenant log log-admin --status 4xx 2>&1")
        #expect(exit == 0, "\(output)")
        #expect(output.split(separator: "\n").count == 2 && output.contains("404") && output.contains("GET /scim/v2/Users/:id"), "\(output)")
        (exit, output) = runShell("\(scimctl) tenant log log-admin --user kept-11@example.com --bodies 2>&1")
        #expect(exit == 0 && output.contains("user=kept-11@example.com") && output.contains("request:"), "\(output)")
        #expect(output.contains("\"title\":\"[REDACTED]\""), "\(output)")
        (exit, output) = runShell("\(scimctl) tenant log log-admin --limit 2 --json 2>&1")
        #expect(exit == 0 && output.split(separator: "\n").count == 2, "\(output)")
        (exit, output) = runShell("\(scimctl) tenant log log-admin --status teapot 2>&1")
        #expect(exit != 0 && output.contains("400") && output.contains("status"), "\(output)")
        (exit, output) = runShell("\(scimctl) tenant log log-admin --summary 2>&1")
        #expect(exit == 0 && output.contains("4xx=2") && output.contains("last request:"), "\(output)")
        // --follow prints what arrives while it runs, then stops on SIGTERM (timeout).
        let follower = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "exec \(scimctl) tenant log log-admin --follow --limit 1"],
                                        logPath: d.directory + "/follow.log")
        sleepMillis(1500)
        #expect(try d.scim(.get, "/scim/v2/Users?filter=" + PercentEncoding.encode("userName eq \"followed@example.com\""), token: t.token).status.code == 200)
        var followed = ""
        for _ in 0..<100 {
            followed = follower.log
            if followed.contains("followed@example.com") { break }
            sleepMillis(100)
        }
        _ = follower.stop()
        #expect(followed.contains("user=followed@example.com"), "\(followed)")
    }
}
