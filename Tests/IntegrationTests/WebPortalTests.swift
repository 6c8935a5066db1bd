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

/// A browser without a browser: cookies, forms and CSRF tokens over real HTTP to a real gateway.
final class WebClient {
    let port: Int
    var host: String?
    var cookies: [String: String] = [:]

    init(port: Int, host: String? = nil) {
        self.port = port
        self.host = host
    }

    func send(_ method: HTTPMethod, _ target: String, form: [(String, String)]? = nil, headers: [(String, String)] = []) throws -> HTTPResponse {
        var request = HTTPRequest(method: method, target: target)
        if let host { request.headers.add("Host", host) }
        if !cookies.isEmpty { request.headers.add("Cookie", cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }
        for (k, v) in headers { request.headers.add(k, v) }
        if let form {
            request.headers.add("Content-Type", "application/x-www-form-urlencoded")
            request.body = Array(form.map { PercentEncoding.encode($0.0) + "=" + PercentEncoding.encode($0.1) }.joined(separator: "&").utf8)
        }
        let response = try HTTPClient(host: "127.0.0.1", port: port).send(request, timeout: .seconds(30))
        for header in response.headers.values("Set-Cookie") {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            if pair.count == 2 { cookies[String(pair[0])] = pair[1].isEmpty ? nil : String(pair[1]) }
        }
        return response
    }

    /// The CSRF token in a page's forms.
    static func csrf(_ page: HTTPResponse) -> String? {
        let text = page.bodyText
        guard let r = text.firstRange(of: "name=\"csrf\" value=\"") else { return nil }
        return String(text[r.upperBound...].prefix { $0 != "\"" })
    }
}

/// Issue 17's setup links and pages through a real gateway: the link's life (open, use, revoke, expire), its
/// walls (CSRF, cross-site posts, other tenants, wrong region host, guessing), and escaping of hostile names.
@Suite(.serialized) struct WebPortalTests {
    static func createLink(_ d: Deployment, _ tenant: String, seconds: Int? = nil) throws -> (id: String, path: String) {
        var body: JSONObject = ["label": "test"]
        if let seconds { body.appendUnchecked(key: "expiresInSeconds", value: .number(JSONNumber(seconds))) }
        let (status, json) = try d.admin(.post, "/admin/v1/tenants/\(tenant)/setup-links", .object(body))
        #expect(status == 201)
        return (try #require(json?["id"]?.string), try #require(json?["path"]?.string))
    }

    /// Opens the link as a browser would: its page, then the POST that starts the session.
    static func open(_ d: Deployment, _ path: String, host: String? = nil) throws -> (WebClient, HTTPResponse) {
        let web = WebClient(port: d.gateways[0].port, host: host)
        let landing = try web.send(.get, path)
        guard landing.status.code == 200 else { return (web, landing) }
        let link = String(path.dropFirst("/setup/l/".count))
        let started = try web.send(.post, "/setup/start", form: [("link", link)], headers: [("Sec-Fetch-Site", "same-origin")])
        #expect(started.status.code == 303)
        return (web, try web.send(.get, "/setup"))
    }

    @Test func aSetupLinkOpensASessionThatIssuesAWorkingTokenAndEndsWhenTheLinkIsRevoked() throws {
        let d = try Deployment("web_link")
        defer { d.stop() }
        let t = try d.createTenant("web-link", region: "us")
        let link = try Self.createLink(d, t.id)
        let web = WebClient(port: d.gateways[0].port)
        let landing = try web.send(.get, link.path)
        #expect(landing.status.code == 200)
        #expect(landing.bodyText.contains("web-link"))
        #expect(landing.headers["Referrer-Policy"] == "same-origin")
        #expect(landing.headers["Content-Security-Policy"]?.contains("script-src 'self'") == true)
        let started = try web.send(.post, "/setup/start", form: [("link", String(link.path.dropFirst("/setup/l/".count)))])
        #expect(started.status.code == 303)
        let cookie = try #require(started.headers["Set-Cookie"])
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/setup"))
        #expect(!cookie.contains("Secure"), "plain http from loopback is the one case without Secure")

        let home = try web.send(.get, "/setup")
        #expect(home.status.code == 200)
        #expect(home.bodyText.contains("https://api.example.com/scim/v2"))
        let csrf = try #require(WebClient.csrf(home))
        // No CSRF token, a wrong one, or a cross-site POST: refused, nothing issued.
        #expect(try web.send(.post, "/setup/token", form: [("idp", "okta")]).status.code == 403)
        #expect(try web.send(.post, "/setup/token", form: [("idp", "okta"), ("csrf", String(csrf.reversed()))]).status.code == 403)
        #expect(try web.send(.post, "/setup/token", form: [("idp", "okta"), ("csrf", csrf)],
                             headers: [("Sec-Fetch-Site", "cross-site")]).status.code == 403)
        let (_, before) = try d.admin(.get, "/admin/v1/tenants/\(t.id)/tokens")
        #expect(before?["tokens"]?.array?.count == 1)

        // Okta's page: the region-correct URL and a token shown once, which works.
        let okta = try web.send(.post, "/setup/token", form: [("idp", "okta"), ("csrf", csrf)])
        #expect(okta.status.code == 200)
        let text = okta.bodyText
        let start = try #require(text.firstRange(of: "data-secret>"))
        let token = String(text[start.upperBound...].prefix { $0 != "<" })
        #expect(token.hasPrefix("scim_"))
        #expect(try d.scim(.get, "/scim/v2/Users", token: token).status.code == 200)
        #expect(!(try web.send(.get, "/setup").bodyText.contains(token)), "the token is shown once")
        #expect(!d.logs.contains(String(link.path.dropFirst("/setup/l/".count))), "the link's secret is not logged")

        // Deactivate needs the confirmation box; then SCIM refuses; reactivate restores it.
        #expect(try web.send(.post, "/setup/integration", form: [("action", "deactivate"), ("csrf", csrf)]).headers["Location"] == "/setup?done=not-confirmed")
        #expect(try web.send(.post, "/setup/integration", form: [("action", "deactivate"), ("confirm", "yes"), ("csrf", csrf)]).status.code == 303)
        #expect(try d.scim(.get, "/scim/v2/Users", token: token).status.code == 401)
        #expect(try web.send(.post, "/setup/integration", form: [("action", "reactivate"), ("confirm", "yes"), ("csrf", csrf)]).status.code == 303)
        #expect(try d.scim(.get, "/scim/v2/Users", token: token).status.code == 200)

        // The token checker explains a revoked token, a typo and another tenant's token.
        let other = try d.createTenant("web-link-other", region: "us")
        func check(_ candidate: String) throws -> String {
            try web.send(.post, "/setup/check-token", form: [("token", candidate), ("csrf", csrf)]).bodyText
        }
        #expect(try check(token).contains("valid and active"))
        #expect(try check(other.token).contains("does not belong to this organisation"))
        #expect(try check(String(token.dropLast()) + (token.hasSuffix("A") ? "B" : "A")).contains("typo"))
        let (_, audit) = try d.admin(.get, "/admin/v1/audit?tenant=\(t.id)")
        let actions = (audit?["entries"]?.array ?? []).compactMap { $0["action"]?.string }
        #expect(actions.contains("setup_link.open") && actions.contains("integration.deactivate") && actions.contains("token.issue"))

        // Revoking the link ends the session at once and the link is refused.
        #expect(try d.admin(.post, "/admin/v1/tenants/\(t.id)/setup-links/\(link.id)/revoke").0 == 200)
        #expect(try web.send(.get, "/setup").status.code == 401)
        #expect(try WebClient(port: d.gateways[0].port).send(.get, link.path).status.code == 404)
    }

    @Test func expiredForeignTamperedMisdirectedAndGuessedLinksAreRefused() throws {
        let d = try Deployment("web_refusals", gatewayArguments: ["--auth-failure-burst", "5"])
        defer { d.stop() }
        let us = try d.createTenant("web-us", region: "us")
        let eu = try d.createTenant("web-eu", region: "eu2")
        // Expired: set its expiry in the past (the gateway checks it on every use).
        let expiring = try Self.createLink(d, us.id)
        let control = try PostgresConnection(configuration: d.control.adminConfiguration)
        _ = try control.execute("UPDATE setup_links SET expires_at = now() - interval '1 second' WHERE id = $1", [.text(expiring.id)])
        #expect(try WebClient(port: d.gateways[0].port).send(.get, expiring.path).status.code == 404)

        // A session of one tenant's link cannot be turned into another's: the cookie's tenant is signed.
        let (web, home) = try Self.open(d, try Self.createLink(d, us.id).path)
        #expect(home.status.code == 200)
        let cookie = try #require(web.cookies["scim_setup"])
        let parts = cookie.split(separator: ".")
        let payload = String(decoding: try #require(Base64.decode(String(parts[1]))), as: UTF8.self)
        var fields = payload.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        #expect(fields[2] == us.id)
        fields[2] = eu.id
        web.cookies["scim_setup"] = "v1.\(Base64.encode(Array(fields.joined(separator: "|").utf8), urlSafe: true)).\(parts[2])"
        #expect(try web.send(.get, "/setup").status.code == 401)

        // An eu2 tenant's link on the us host: 421 naming the right host.
        let euLink = try Self.createLink(d, eu.id)
        let wrong = try WebClient(port: d.gateways[0].port, host: "api.example.com").send(.get, euLink.path)
        #expect(wrong.status.code == 421)
        #expect(wrong.bodyText.contains("https://eu2-api.example.com"))
        #expect(try WebClient(port: d.gateways[0].port, host: "eu2-api.example.com").send(.get, euLink.path).status.code == 200)

        // Guessing: well-formed links that do not exist, then the source is throttled. The guesses come from a source
        // address of their own, so the requests above spend none of its burst (5) whatever their pace; the budget
        // refills at 1/s, so only the last guesses are bound to meet an empty bucket.
        let good = try Self.createLink(d, us.id)  // made first: the bucket refills at 1/s, so the checks below follow the guesses at once
        var statuses: [Int] = []
        for _ in 0..<8 {
            let c = try RawConnection(port: d.gateways[0].port, source: "127.0.0.9")
            try c.send("GET /setup/l/scimsetup_AAAAAAAAAAAAAAAA_\(String(repeating: "b", count: 38)) HTTP/1.1\r\nHost: 127.0.0.1:\(d.gateways[0].port)\r\nConnection: close\r\n\r\n")
            statuses.append(try c.readResponse()?.status.code ?? 0)
        }
        #expect(statuses.prefix(5).allSatisfy { $0 == 404 }, "\(statuses)")
        #expect(statuses.dropFirst(5).contains(429) && statuses.last == 429, "\(statuses)")
        // Throttled even for a good link, from that source; another source opens it.
        let c = try RawConnection(port: d.gateways[0].port, source: "127.0.0.9")
        try c.send("GET \(good.path) HTTP/1.1\r\nHost: 127.0.0.1:\(d.gateways[0].port)\r\nConnection: close\r\n\r\n")
        #expect(try c.readResponse()?.status.code == 429)
        #expect(try WebClient(port: d.gateways[0].port).send(.get, good.path).status.code == 200)
    }

    @Test func hostileNamesRenderInertInThePortalAndTheConsole() throws {
        let d = try Deployment("web_xss")
        defer { d.stop() }
        let payload = "<script>alert('x')</script><img src=x onerror=alert(1)>"
        let (status, created) = try d.admin(.post, "/admin/v1/tenants", ["name": .string(payload), "region": "us"])
        #expect(status == 201)
        let id = try #require(created?["tenant"]?["id"]?.string)
        let (_, home) = try Self.open(d, try Self.createLink(d, id).path)
        #expect(home.status.code == 200)
        #expect(!home.bodyText.contains("<script>alert"))
        #expect(!home.bodyText.contains("<img src=x"))
        #expect(home.bodyText.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))

        // The console: sign in, the tenant list and page escape the name too.
        let console = WebClient(port: d.gateways[0].adminPort)
        #expect(try console.send(.get, "/console").headers["Location"] == "/console/login")
        #expect(try console.send(.post, "/console/login", form: [("token", "scimadm_wrong")]).status.code == 401)
        #expect(try console.send(.post, "/console/login", form: [("token", d.adminToken)], headers: [("Sec-Fetch-Site", "cross-site")]).status.code == 403)
        let signedIn = try console.send(.post, "/console/login", form: [("token", d.adminToken)])
        #expect(signedIn.status.code == 303)
        #expect(signedIn.headers["Set-Cookie"]?.contains("Path=/console") == true)
        for page in ["/console", "/console/tenants/\(id)"] {
            let r = try console.send(.get, page)
            #expect(r.status.code == 200, "\(page)")
            #expect(!r.bodyText.contains("<script>alert"), "\(page)")
            #expect(r.bodyText.contains("&lt;script&gt;"), "\(page)")
        }
        // A console action needs its CSRF token.
        let page = try console.send(.get, "/console/tenants/\(id)")
        let csrf = try #require(WebClient.csrf(page))
        #expect(try console.send(.post, "/console/tenants/\(id)/integration", form: [("action", "deactivate")]).status.code == 403)
        #expect(try console.send(.post, "/console/tenants/\(id)/integration", form: [("action", "deactivate"), ("csrf", csrf)]).status.code == 303)
        let (_, tenant) = try d.admin(.get, "/admin/v1/tenants/\(id)")
        #expect(tenant?["integrationState"]?.string == "deactivated")
        let (_, audit) = try d.admin(.get, "/admin/v1/audit?tenant=\(id)")
        #expect((audit?["entries"]?.array ?? []).contains { $0["actor"]?.string?.hasPrefix("console:") == true })
    }

    @Test func theConsoleThrottlesFailedSignIns() throws {
        let d = try Deployment("web_console_throttle")
        defer { d.stop() }
        let console = WebClient(port: d.gateways[0].adminPort)
        var statuses: [Int] = []
        for _ in 0..<12 { statuses.append(try console.send(.post, "/console/login", form: [("token", "scimadm_nope")]).status.code) }
        #expect(statuses.prefix(10).allSatisfy { $0 == 401 })
        #expect(statuses.last == 429)
    }
}
