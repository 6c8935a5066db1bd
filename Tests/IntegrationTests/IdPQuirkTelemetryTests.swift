import HTTPCore
import JSON
import NetIO
import TestSupport
import Testing

extension IdPReplay {
    /// Quirk telemetry end to end: an operator asks the gateway (admin API or `scimctl tenant quirks`), the gateway asks
    /// the tenant's home region over the signed internal API, and the answer tells which dialect the IdP speaks.
    @Suite struct QuirkTelemetry {
        /// Runs `scimctl` against the shared deployment's admin listener; returns (exit status, output).
        func scimctl(_ d: Deployment, _ arguments: [String]) throws -> (Int32?, String) {
            let log = d.directory + "/scimctl-\(monotonicMillis())-\(Int.random(in: 0..<1_000_000)).out"
            let process = try ChildProcess(executable: binaryDirectory() + "/scimctl",
                                           arguments: ["--url", "http://127.0.0.1:\(d.gateways[0].adminPort)",
                                                       "--admin-token-file", d.directory + "/admin-token"] + arguments,
                                           logPath: log)
            let status = process.wait(timeoutMillis: 20_000)
            return (status, process.log)
        }

        @Test func anEntraTenantIsRecognisableFromItsQuirksInTheAdminAPIAndScimctl() throws {
            let entra = try Entra.client("entra-telemetry", region: .us)
            let quiet = try Okta.client("okta-telemetry", region: .us)
            let u = try entra.create("/Users", #"{"userName":"dialect@contoso.com","active":true}"#).id
            for value in ["\"False\"", "\"True\""] {
                entra.expectResource(try entra.send(.patch, "/Users/\(u)", patchOps(#"{"op":"Replace","path":"active","value":\#(value)}"#)))
            }
            _ = try quiet.create("/Users", #"{"userName":"plain@okta.example","active":true}"#)

            let (status, report) = try entra.deployment.admin(.get, "/admin/v1/tenants/\(entra.tenant)/quirks")
            #expect(status == 200)
            #expect(report?["tenantId"]?.string == entra.tenant && report?["region"] == "us")
            #expect(report?["tenantName"]?.string?.hasPrefix("entra-telemetry-") == true)
            let quirks = report?["quirks"]?.array ?? []
            #expect(quirks.map { $0["quirk"]?.string ?? "" } == ["capitalisedPatchOp", "booleanAsString"])
            #expect(quirks.map { $0["count"]?.int ?? 0 } == [2, 2])
            #expect(quirks.first?["knownSenders"] == ["Entra ID (default dialect)"])
            #expect(quirks.allSatisfy { ($0["firstSeen"]?.string ?? "") <= ($0["lastSeen"]?.string ?? "") })
            #expect(try quiet.quirks() == [:])
            // By name too, and a 404 for a tenant that does not exist.
            let (byName, named) = try entra.deployment.admin(.get, "/admin/v1/tenants/\(report?["tenantName"]?.string ?? "")/quirks")
            #expect(byName == 200 && named?["tenantId"]?.string == entra.tenant)
            #expect(try entra.deployment.admin(.get, "/admin/v1/tenants/\(randomUUID())/quirks").0 == 404)
            // Admin credentials are required.
            let client = HTTPClient(host: "127.0.0.1", port: entra.deployment.gateways[0].adminPort)
            let anonymous = try client.send(HTTPRequest(method: .get, target: "/admin/v1/tenants/\(entra.tenant)/quirks"))
            #expect(anonymous.status.code == 401)

            let (code, text) = try scimctl(entra.deployment, ["tenant", "quirks", entra.tenant])
            #expect(code == 0, "\(text)")
            let lines = text.split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(text)")
            #expect(lines.first?.hasPrefix("tenant entra-telemetry-") == true && lines.first?.hasSuffix("(\(entra.tenant))  region=us") == true)
            #expect(lines.dropFirst().first?.hasPrefix("capitalisedPatchOp  count=2  first=") == true)
            #expect(lines.dropFirst().first?.hasSuffix("sent by: Entra ID (default dialect)") == true)
            #expect(lines.last?.hasPrefix("booleanAsString  count=2  first=") == true)
            #expect(lines.last?.hasSuffix("sent by: Entra ID (default dialect), Microsoft SCIM Validator, OneLogin (templates)") == true)
            let (quietCode, quietText) = try scimctl(entra.deployment, ["tenant", "quirks", quiet.tenant])
            #expect(quietCode == 0)
            #expect(quietText.hasSuffix("no IdP quirks seen: its IdP speaks plain RFC 7644 so far (or has not synced yet)\n"))
            let (jsonCode, json) = try scimctl(entra.deployment, ["--json", "tenant", "quirks", entra.tenant])
            #expect(jsonCode == 0)
            #expect((try? JSONDecoder.decode(json))?["quirks"]?.array?.count == 2)
        }
    }
}
