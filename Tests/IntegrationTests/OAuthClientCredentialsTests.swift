#if canImport(Glibc)
import Glibc
#endif
import Crypto
import HTTPCore
import JSON
import NetIO
import Testing
import TestSupport

/// Issue 19 through real processes (gateways, both regions, PostgreSQL): OAuth 2.0 client credentials next to
/// bearer tokens. The token endpoint issues short-lived opaque access tokens that the SCIM API takes exactly like
/// bearer tokens; the integration lifecycle, secret rotation, revocation and data residency cover them.
@Suite(.serialized) struct OAuthClientCredentialsTests {
    struct Client {
        var tenant: String
        var id: String
        var secret: String
    }

    static func createClient(_ d: Deployment, tenant: String, lifetime: Int? = nil) throws -> Client {
        var body: JSONObject = ["label": "entra"]
        if let lifetime { body.appendUnchecked(key: "tokenLifetimeSeconds", value: .number(JSONNumber(lifetime))) }
        let (status, json) = try d.admin(.post, "/admin/v1/tenants/\(tenant)/oauth-clients", .object(body))
        #expect(status == 201)
        return Client(tenant: tenant, id: try #require(json?["clientId"]?.string), secret: try #require(json?["clientSecret"]?.string))
    }

    /// A token request as the IdP sends it: Basic (default) or the credentials in the form body.
    static func tokenRequest(_ d: Deployment, _ c: Client, secret: String? = nil, post: Bool = false, host: String? = nil,
                             body: String = "grant_type=client_credentials", gateway: Int = 0) throws -> HTTPResponse {
        var request = HTTPRequest(method: .post, target: "/oauth/token",
                                  headers: ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"])
        if let host { request.headers.add("Host", host) }
        let s = secret ?? c.secret
        if post {
            request.body = Array((body + "&client_id=\(PercentEncoding.encode(c.id))&client_secret=\(PercentEncoding.encode(s))").utf8)
        } else {
            request.headers.add("Authorization", "Basic " + Base64.encode(Array("\(c.id):\(s)".utf8)))
            request.body = Array(body.utf8)
        }
        return try HTTPClient(host: "127.0.0.1", port: d.gateways[gateway].port).send(request, timeout: .seconds(30))
    }

    static func accessToken(_ d: Deployment, _ c: Client, gateway: Int = 0, host: String? = nil) throws -> String {
        let r = try tokenRequest(d, c, host: host, gateway: gateway)
        #expect(r.status.code == 200, "\(r.bodyText)")
        return try #require(json(r)?["access_token"]?.string)
    }

    static func listUsers(_ d: Deployment, _ token: String, gateway: Int = 0, host: String? = nil) throws -> Int {
        try d.scim(.get, "/scim/v2/Users?count=1", token: token, host: host, gateway: gateway).status.code
    }

    static func oauthError(_ r: HTTPResponse) -> String? { json(r)?["error"]?.string }

    @Test func issueUseAndExpire() throws {
        let d = try Deployment("oauth_expiry", gatewayArguments: ["--oauth-min-token-lifetime", "1s"])
        defer { d.stop() }
        let t = try d.createTenant("oauth-expiry", region: "us")
        // The default lifetime is an hour; the admin API refuses anything above six hours.
        let hourly = try Self.createClient(d, tenant: t.id)
        let first = try Self.tokenRequest(d, hourly)
        #expect(first.status.code == 200)
        #expect(first.headers["Cache-Control"] == "no-store")
        #expect(first.headers["Content-Type"] == "application/json")
        let body = try #require(json(first))
        #expect(body["token_type"]?.string == "Bearer")
        #expect((3590...3600).contains(body["expires_in"]?.int ?? 0))
        let token = try #require(body["access_token"]?.string)
        #expect(token.hasPrefix("scimat_"))
        #expect(try Self.listUsers(d, token) == 200)
        // client_secret_post works as well, and a requested scope is answered with the one granted.
        let posted = try Self.tokenRequest(d, hourly, post: true, body: "grant_type=client_credentials&scope=users%20groups")
        #expect(posted.status.code == 200)
        #expect(json(posted)?["scope"]?.string == "scim")
        let (tooLong, _) = try d.admin(.post, "/admin/v1/tenants/\(t.id)/oauth-clients", ["tokenLifetimeSeconds": 21_601])
        #expect(tooLong == 400)

        // A 2-second token works, then stops by itself (cached or not) and the metric counts it.
        let short = try Self.createClient(d, tenant: t.id, lifetime: 2)
        let brief = try Self.accessToken(d, short)
        #expect(try Self.listUsers(d, brief) == 200)
        sleepMillis(2300)
        let expired = try d.scim(.get, "/scim/v2/Users?count=1", token: brief)
        #expect(expired.status.code == 401)
        #expect(expired.headers["WWW-Authenticate"]?.contains("invalid_token") == true)
        // The client simply asks again.
        #expect(try Self.listUsers(d, try Self.accessToken(d, short)) == 200)
        let metrics = try HTTPClient(host: "127.0.0.1", port: d.gateways[0].adminPort)
            .send(HTTPRequest(method: .get, target: "/metrics")).bodyText
        #expect(metrics.contains("scim_gateway_oauth_access_tokens_expired_total 1"))
        #expect(metrics.contains("scim_gateway_oauth_tokens_issued_total{region=\"us\"} 4"))

        // Access tokens are not bearer tokens: they do not fill the tenant's token list or its live-token cap.
        let (_, tokens) = try d.admin(.get, "/admin/v1/tenants/\(t.id)/tokens")
        #expect(tokens?["tokens"]?.array?.count == 1)
        let (_, clients) = try d.admin(.get, "/admin/v1/tenants/\(t.id)/oauth-clients")
        #expect(clients?["oauthClients"]?.array?.count == 2)
        #expect(clients?["oauthClients"]?[0]?["liveAccessTokens"]?.int == 2)
        #expect(clients?["oauthClients"]?[0]?["clientSecret"] == nil)
        // Nothing secret in the logs: no client secret, no access token.
        let logs = d.logs
        for secret in [hourly.secret, short.secret, token, brief] { #expect(!logs.contains(secret)) }
    }

    @Test func secretRotationHasAGraceWindowAndRevocationIsImmediateOnEveryReplica() throws {
        let d = try Deployment("oauth_rotate", gateways: 2)
        defer { d.stop() }
        let t = try d.createTenant("oauth-rotate", region: "eu2")
        var c = try Self.createClient(d, tenant: t.id)
        let host = "eu2-api.example.com"
        let before = try Self.accessToken(d, c, host: host)

        // Rotate with a 2-second grace: both secrets work, then only the new one; tokens already issued live on.
        let (status, rotated) = try d.admin(.post, "/admin/v1/tenants/\(t.id)/oauth-clients/\(c.id)/rotate-secret", ["graceSeconds": 2])
        #expect(status == 201)
        let oldSecret = c.secret
        c.secret = try #require(rotated?["clientSecret"]?.string)
        #expect(c.secret != oldSecret)
        #expect(rotated?["previousSecretValidUntil"]?.string != nil)
        #expect(try Self.tokenRequest(d, c, secret: oldSecret, host: host).status.code == 200)
        #expect(try Self.tokenRequest(d, c, host: host).status.code == 200)
        sleepMillis(2300)
        let late = try Self.tokenRequest(d, c, secret: oldSecret, host: host)
        #expect(late.status.code == 401)
        #expect(Self.oauthError(late) == "invalid_client")
        #expect(try Self.tokenRequest(d, c, host: host).status.code == 200)
        #expect(try Self.listUsers(d, before, host: host) == 200)
        // Grace 0: the old secret stops at once.
        let (_, immediate) = try d.admin(.post, "/admin/v1/tenants/\(t.id)/oauth-clients/\(c.id)/rotate-secret", ["graceSeconds": 0])
        let previous = c.secret
        c.secret = try #require(immediate?["clientSecret"]?.string)
        #expect(try Self.tokenRequest(d, c, secret: previous, host: host).status.code == 401)

        // Revoke: the second replica (which has the token cached) refuses it within a second, and its token
        // endpoint refuses the client at once.
        let token = try Self.accessToken(d, c, host: host)
        #expect(try Self.listUsers(d, token, gateway: 1, host: host) == 200)
        let (revoked, _) = try d.admin(.post, "/admin/v1/tenants/\(t.id)/oauth-clients/\(c.id)/revoke", ["reason": "test"])
        #expect(revoked == 200)
        let start = monotonicMillis()
        var refusedAfter: Int?
        while monotonicMillis() - start < 3000 {
            if try Self.listUsers(d, token, gateway: 1, host: host) == 401 { refusedAfter = monotonicMillis() - start; break }
            sleepMillis(10)
        }
        let elapsed = try #require(refusedAfter, "the second replica still accepted a revoked client's token after 3 s")
        #expect(elapsed < 1000, "took \(elapsed) ms")
        print("revoked OAuth client: replica 2 refused its cached access token after \(elapsed) ms")
        #expect(try Self.listUsers(d, token, gateway: 0, host: host) == 401)
        #expect(try Self.listUsers(d, before, gateway: 1, host: host) == 401)
        let refused = try Self.tokenRequest(d, c, host: host, gateway: 1)
        #expect(refused.status.code == 401)
        #expect(Self.oauthError(refused) == "invalid_client")
        let (_, clients) = try d.admin(.get, "/admin/v1/tenants/\(t.id)/oauth-clients")
        #expect(clients?["oauthClients"]?[0]?["status"]?.string == "revoked")
        #expect(clients?["oauthClients"]?[0]?["liveAccessTokens"]?.int == 0)
        // The tenant's bearer token is untouched.
        #expect(try Self.listUsers(d, t.token, host: host) == 200)
    }

    @Test func theIntegrationLifecycleCoversOAuthClients() throws {
        let d = try Deployment("oauth_lifecycle")
        defer { d.stop() }
        let t = try d.createTenant("oauth-lifecycle", region: "us")
        let c = try Self.createClient(d, tenant: t.id)
        let token = try Self.accessToken(d, c)
        #expect(try Self.listUsers(d, token) == 200)

        #expect(try d.admin(.post, "/admin/v1/tenants/\(t.id)/integration/deactivate").0 == 200)
        let refusedToken = try d.scim(.get, "/scim/v2/Users", token: token)
        #expect(refusedToken.status.code == 401)
        #expect(refusedToken.bodyText.contains("integration deactivated"))
        let refusedIssue = try Self.tokenRequest(d, c)
        #expect(refusedIssue.status.code == 400)
        #expect(Self.oauthError(refusedIssue) == "unauthorized_client")
        // Nothing was written while deactivated.
        #expect(try d.scim(.post, "/scim/v2/Users", token: token, body: userBody("x@example.com")).status.code == 401)

        #expect(try d.admin(.post, "/admin/v1/tenants/\(t.id)/integration/reactivate").0 == 200)
        let fresh = try Self.accessToken(d, c)
        #expect(try Self.listUsers(d, fresh) == 200)
        #expect(try d.scim(.post, "/scim/v2/Users", token: fresh, body: userBody("after@example.com")).status.code == 201)

        // "Update token" replaces the bearer token and ends every live credential, access tokens included; the
        // client itself stays and obtains new ones.
        #expect(try d.admin(.post, "/admin/v1/tenants/\(t.id)/integration/token").0 == 201)
        #expect(try Self.listUsers(d, fresh) == 401)
        #expect(try Self.listUsers(d, try Self.accessToken(d, c)) == 200)

        // A deleted tenant's clients are gone with it.
        #expect(try d.admin(.delete, "/admin/v1/tenants/\(t.id)").0 == 204)
        #expect(try Self.tokenRequest(d, c).status.code == 401)
    }

    @Test func wrongRegionWrongSecretAndMalformedRequests() throws {
        let d = try Deployment("oauth_refusals")
        defer { d.stop() }
        let us = try d.createTenant("oauth-us", region: "us")
        let c = try Self.createClient(d, tenant: us.id)

        // Region-aware: each region host has the endpoint; a us client asking the eu2 host is told where to go.
        #expect(try Self.tokenRequest(d, c, host: "api.example.com").status.code == 200)
        let misdirected = try Self.tokenRequest(d, c, host: "eu2-api.example.com")
        #expect(misdirected.status.code == 421)
        #expect(json(misdirected)?["error_description"]?.string?.contains("https://api.example.com/oauth/token") == true)
        let usToken = try Self.accessToken(d, c, host: "api.example.com")
        #expect(try Self.listUsers(d, usToken, host: "eu2-api.example.com") == 421)
        for (host, issuer) in [("api.example.com", "https://api.example.com"), ("eu2-api.example.com", "https://eu2-api.example.com")] {
            let client = HTTPClient(host: "127.0.0.1", port: d.gateways[0].port)
            let meta = try client.send(HTTPRequest(method: .get, target: "/.well-known/oauth-authorization-server", headers: ["Host": host]))
            #expect(meta.status.code == 200)
            let doc = try #require(json(meta))
            #expect(doc["issuer"]?.string == issuer)
            #expect(doc["token_endpoint"]?.string == issuer + "/oauth/token")
            #expect(doc["grant_types_supported"]?.array == ["client_credentials"])
            #expect(doc["token_endpoint_auth_methods_supported"]?.array == ["client_secret_basic", "client_secret_post"])
        }

        // Wrong secret (well-formed, or not), unknown client: 401 invalid_client with a Basic challenge.
        let wrong = try Self.tokenRequest(d, c, secret: OAuthClientCredentialForTests.secret())
        #expect(wrong.status.code == 401)
        #expect(Self.oauthError(wrong) == "invalid_client")
        #expect(wrong.headers["WWW-Authenticate"]?.hasPrefix("Basic") == true)
        #expect(Self.oauthError(try Self.tokenRequest(d, c, secret: "hunter2", post: true)) == "invalid_client")
        var stranger = c
        stranger.id = "scimcli_0000000000000000"
        #expect(try Self.tokenRequest(d, stranger).status.code == 401)

        let unsupported = try Self.tokenRequest(d, c, body: "grant_type=password&username=a&password=b")
        #expect(unsupported.status.code == 400)
        #expect(Self.oauthError(unsupported) == "unsupported_grant_type")

        // Malformed: wrong media type, junk bytes, repeated parameters, oversized, wrong method.
        let gateway = HTTPClient(host: "127.0.0.1", port: d.gateways[0].port)
        func raw(_ method: HTTPMethod, _ body: [UInt8], contentType: String?) throws -> HTTPResponse {
            var r = HTTPRequest(method: method, target: "/oauth/token", body: body)
            if let contentType { r.headers.add("Content-Type", contentType) }
            r.headers.add("Authorization", "Basic " + Base64.encode(Array("\(c.id):\(c.secret)".utf8)))
            return try gateway.send(r, timeout: .seconds(10))
        }
        let cases: [(HTTPMethod, [UInt8], String?, Int, String)] = [
            (.post, Array(#"{"grant_type":"client_credentials"}"#.utf8), "application/json", 400, "invalid_request"),
            (.post, [0xFF, 0xFE, 0x00, 0x80], "application/x-www-form-urlencoded", 400, "invalid_request"),
            (.post, Array("grant_type=client_credentials&grant_type=client_credentials".utf8), "application/x-www-form-urlencoded", 400, "invalid_request"),
            (.post, Array(("grant_type=client_credentials&pad=" + String(repeating: "x", count: 8000)).utf8), "application/x-www-form-urlencoded", 400, "invalid_request"),
            (.post, [], "application/x-www-form-urlencoded", 400, "invalid_request"),
            (.post, Array("grant_type=client_credentials".utf8), nil, 400, "invalid_request"),
            (.get, [], nil, 405, "invalid_request"),
        ]
        for (method, body, type, status, code) in cases {
            let r = try raw(method, body, contentType: type)
            #expect(r.status.code == status, "\(method) \(type ?? "-"): \(r.status.code) \(r.bodyText)")
            #expect(Self.oauthError(r) == code)
            #expect(r.headers["Cache-Control"] == "no-store")
        }
        // Still serving.
        #expect(try Self.tokenRequest(d, c).status.code == 200)
    }

    /// An Entra gallery app has one token URL for every customer: a host in no region (`--oauth-global-hosts`)
    /// issues tokens to clients of both regions, which then use their own region's SCIM host; with
    /// `--strict-hosts` every other unknown host is refused, and SCIM calls on the neutral host are too.
    @Test func aRegionNeutralTokenHostServesEveryRegionUnderStrictHosts() throws {
        let d = try Deployment("oauth_global", gatewayArguments: ["--strict-hosts", "--oauth-global-hosts", "auth.example.com"])
        defer { d.stop() }
        let us = try Self.createClient(d, tenant: try d.createTenant("oauth-g-us", region: "us").id)
        let eu = try Self.createClient(d, tenant: try d.createTenant("oauth-g-eu", region: "eu2").id)
        let usToken = try Self.accessToken(d, us, host: "auth.example.com")
        let euToken = try Self.accessToken(d, eu, host: "auth.example.com")
        #expect(try Self.listUsers(d, usToken, host: "api.example.com") == 200)
        #expect(try Self.listUsers(d, euToken, host: "eu2-api.example.com") == 200)
        #expect(try Self.listUsers(d, euToken, host: "api.example.com") == 421)
        #expect(try Self.listUsers(d, euToken, host: "auth.example.com") == 421)
        // Region hosts still only serve their own clients; hosts that are nobody's are refused.
        #expect(try Self.tokenRequest(d, eu, host: "api.example.com").status.code == 421)
        #expect(try Self.tokenRequest(d, eu, host: "evil.example.net").status.code == 421)
        let meta = try HTTPClient(host: "127.0.0.1", port: d.gateways[0].port)
            .send(HTTPRequest(method: .get, target: "/.well-known/oauth-authorization-server", headers: ["Host": "auth.example.com"]))
        #expect(json(meta)?["token_endpoint"]?.string == "http://auth.example.com/oauth/token")
        let unknown = try HTTPClient(host: "127.0.0.1", port: d.gateways[0].port)
            .send(HTTPRequest(method: .get, target: "/.well-known/oauth-authorization-server", headers: ["Host": "evil.example.net"]))
        #expect(unknown.status.code == 421)
    }

    @Test func bruteForceFromOneSourceIsThrottledButAKnownClientStillGetsTokens() throws {
        let d = try Deployment("oauth_bruteforce", gatewayArguments: ["--auth-failure-burst", "5"])
        defer { d.stop() }
        let t = try d.createTenant("oauth-bf", region: "us")
        let c = try Self.createClient(d, tenant: t.id)
        #expect(try Self.tokenRequest(d, c).status.code == 200)
        var statuses: [Int] = []
        for _ in 0..<12 { statuses.append(try Self.tokenRequest(d, c, secret: OAuthClientCredentialForTests.secret()).status.code) }
        #expect(statuses.prefix(5).allSatisfy { $0 == 401 })
        #expect(statuses.suffix(5).allSatisfy { $0 == 429 }, "\(statuses)")
        let throttled = try Self.tokenRequest(d, c, secret: OAuthClientCredentialForTests.secret())
        #expect(throttled.headers["Retry-After"] != nil)
        // The same source's SCIM guesses are throttled too (one budget per source)...
        #expect(try d.scim(.get, "/scim/v2/Users", token: "scim_AAAAAAAAAAAAAAAA_" + String(repeating: "B", count: 38)).status.code == 429)
        // ...while the client that proved its secret before keeps getting tokens from it.
        #expect(try Self.tokenRequest(d, c).status.code == 200)
    }

    /// requests-oauthlib (PyPI), unmodified, obtains a token from the gateway and lists users with it; authlib
    /// does the same with client_secret_post. `scripts/test.sh` installs both into its cache venv and sets
    /// SCIM_TEST_PYTHON.
    @Test func anUnmodifiedPythonOAuthClientObtainsATokenAndListsUsers() throws {
        guard let python = getenv("SCIM_TEST_PYTHON").map({ String(cString: $0) }), access(python, X_OK) == 0 else {
            Issue.record("SCIM_TEST_PYTHON is not set: run `make test` (scripts/test.sh installs requests-oauthlib and authlib)")
            return
        }
        let d = try Deployment("oauth_python")
        defer { d.stop() }
        let t = try d.createTenant("oauth-python", region: "eu2")
        #expect(try d.scim(.post, "/scim/v2/Users", token: t.token, body: userBody("py@example.com")).status.code == 201)
        let c = try Self.createClient(d, tenant: t.id)
        let script = Deployment.repositoryRoot + "/Tests/Python/oauth_client.py"
        // oauthlib refuses plain http unless told it is a local test (its documented switch); loopback only.
        let (code, output) = runShell("OAUTHLIB_INSECURE_TRANSPORT=1 \(python) \(script) http://127.0.0.1:\(d.gateways[0].port) '\(c.id)' '\(c.secret)' py@example.com 2>&1")
        #expect(code == 0, "\(output)")
        #expect(output.contains("requests-oauthlib: listed 1 user(s)"), "\(output)")
        #expect(output.contains("authlib: listed 1 user(s)"), "\(output)")
    }
}

/// Well-formed client secrets that belong to nobody (a guess that passes the checksum reaches the database).
enum OAuthClientCredentialForTests {
    static func secret() -> String {
        let body = "scimsec_" + Base62.random(32)
        return body + Base62.encode32(CRC32.checksum(body.utf8))
    }
}
