import HTTPCore
import JSON
import NetIO
import Testing
import TestSupport

/// Issue 21: credentials locked to their region's public host (the default), host name variants, and the
/// residency header on every SCIM answer.
@Suite(.serialized) struct RegionLockTests {
    @Test func aTokenWorksOnlyOnItsRegionsHostAndEveryAnswerNamesTheRegion() throws {
        let d = try Deployment("region_lock", gatewayArguments: ["--strict-hosts"])
        defer { d.stop() }
        let us = try d.createTenant("lock-us", region: "us")
        let eu = try d.createTenant("lock-eu", region: "eu2")
        for host in ["api.example.com", "API.EXAMPLE.COM", "api.example.com.", "Api.Example.Com.:443"] {
            let r = try d.scim(.get, "/scim/v2/Users", token: us.token, host: host)
            #expect(r.status.code == 200, "\(host)")
            #expect(r.headers["X-Scim-Region"] == "us", "\(host)")
        }
        let euAnswer = try d.scim(.get, "/scim/v2/Users", token: eu.token, host: "eu2-api.example.com.")
        #expect(euAnswer.status.code == 200)
        #expect(euAnswer.headers["X-Scim-Region"] == "eu2")
        // Another region's host: 421 naming the right base URL; processed by no region.
        let crossed = try d.scim(.get, "/scim/v2/Users", token: us.token, host: "eu2-api.example.com")
        #expect(crossed.status.code == 421)
        #expect(crossed.bodyText.contains("https://api.example.com/scim/v2"))
        #expect(crossed.headers["X-Scim-Region"] == "none")
        // A host in no region (an IP address, localhost, a lookalike) is refused: the default is strict.
        for host in ["127.0.0.1:\(d.gateways[0].port)", "localhost", "api.example.com.evil.net", "api-example.com"] {
            let r = try d.scim(.get, "/scim/v2/Users", token: us.token, host: host)
            #expect(r.status.code == 421, "\(host)")
        }
        // Nothing was written through a refused host.
        #expect(try d.scim(.post, "/scim/v2/Users", token: us.token, body: userBody("x@example.com"), host: "eu2-api.example.com").status.code == 421)
        let list = try d.scim(.get, "/scim/v2/Users", token: us.token, host: "api.example.com")
        #expect(json(list)?["totalResults"]?.int == 0)
        // Gateway refusals of unknown credentials also say no region processed them.
        #expect(try d.scim(.get, "/scim/v2/Users", token: "nope", host: "api.example.com").headers["X-Scim-Region"] == "none")
    }
}
