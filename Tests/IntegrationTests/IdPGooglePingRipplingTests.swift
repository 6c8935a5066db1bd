import HTTPCore
import JSON
import TestSupport
import Testing

extension IdPReplay {
    /// Google Workspace auto-provisioning: `Content-Type: application/json` (not configurable) and
    /// `User-Agent: Google-Auto-Provisioning` [docs/idp-behaviour.md#google-headers-and-media-types]; lookups without `count` [docs/idp-behaviour.md#google-connection-test-and-lookups]. Google's Accept header is not in
    /// docs/idp-behaviour.md: as the issue asks, the client accepts only `application/json` and must get it back [docs/idp-behaviour.md#how-to-read-this-file]. Everything
    /// after the lookup is undocumented in the corpus [docs/idp-behaviour.md#google-overview]: those steps are marked **unverified**.
    @Suite struct GoogleWorkspace {
        static let headers: [(String, String)] = [("User-Agent", "Google-Auto-Provisioning"), ("Accept", "application/json")]

        @Test func lookupWithoutCountCreateSuspendRestoreDelete() throws {
            let google = try IdPClient.provision("google", region: .us, headers: Self.headers, bodyType: "application/json",
                                                 expectedType: MediaType.json)
            // Connection probe [docs/idp-behaviour.md#google-connection-test-and-lookups].
            google.expectList(try google.send(.get, "/Users?count=1"), total: 0)
            // The observed lookup: %20-encoded, startIndex=1 and no count [docs/idp-behaviour.md#google-connection-test-and-lookups].
            let lookup = "/Users?filter=userName%20eq%20%22user%40domain.com%22&startIndex=1"
            google.expectList(try google.send(.get, lookup), total: 0)
            // Create with a minimal Okta-like body [unverified].
            let created = try google.create("/Users", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user@domain.com",
                 "name":{"givenName":"Dom","familyName":"Ain"},"emails":[{"value":"user@domain.com","type":"work","primary":true}],"active":true}
                """)
            let u = created.id
            #expect(google.expectList(try google.send(.get, lookup), total: 1).first?["id"]?.string == u)
            // Suspend by PATCH active:false [unverified]: inactive in the database, still returned.
            let suspended = try google.send(.patch, "/Users/\(u)", patchOps(#"{"op":"replace","path":"active","value":false}"#))
            google.expectResource(suspended)
            #expect(try google.storedUser(u)?.active == false)
            #expect(google.expectList(try google.send(.get, lookup), total: 1).first?["active"] == false)
            // Restore by PUT [unverified]: the same id.
            let restored = try google.send(.put, "/Users/\(u)", #"{"userName":"user@domain.com","name":{"givenName":"Dom","familyName":"Ain"},"emails":[{"value":"user@domain.com","type":"work","primary":true}],"active":true}"#)
            google.expectResource(restored)
            #expect(restored.id == u && restored.json["active"] == true)
            #expect(try google.storedUser(u)?.active == true)
            // Delete [docs/idp-behaviour.md#google-create-suspend-and-delete].
            #expect(try google.send(.delete, "/Users/\(u)").status == 204)
            google.expectList(try google.send(.get, lookup), total: 0)
            google.expectError(try google.send(.get, "/Users/\(u)"), 404)
            #expect(try google.quirks() == [:])
        }
    }

    /// PingFederate / PingOne SCIM provisioner: PUT-only users (PATCH for users = "No"), admin-written filter
    /// expressions, group matching by listing all groups, Remove User Action Disable or Delete [docs/idp-behaviour.md#ping-overview]. Ping's
    /// headers are not in docs/idp-behaviour.md ("JSON" in the matrix) [docs/idp-behaviour.md#how-to-read-this-file]: `application/json` bodies, both media types accepted.
    @Suite struct PingIdentity {
        static let headers: [(String, String)] = [("Accept", "application/scim+json, application/json")]

        func ping(_ label: String, region: IdPRegion = .eu2) throws -> IdPClient {
            try IdPClient.provision(label, region: region, headers: Self.headers, bodyType: "application/json", expectedType: MediaType.scim)
        }

        @Test func filterExpressionsPutOnlyUsersDisableAndDelete() throws {
            let ping = try ping("ping-users")
            // A provisioner for another target checks connectivity with GET /Users/0 and expects 404 [docs/idp-behaviour.md#ping-connection-check].
            ping.expectError(try ping.send(.get, "/Users/0"), 404)
            ping.expectList(try ping.send(.get, "/Users?filter=userName%20eq%20%22jsmith%22"), total: 0)
            let u = try ping.create("/Users", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jsmith","name":{"givenName":"John","familyName":"Smith"},
                 "emails":[{"value":"jsmith@example.com","type":"work","primary":true}],"active":true}
                """).id
            // The default and the admin-written forms: attribute and operator case vary [docs/idp-behaviour.md#ping-lookups-by-filter]; RFC 7644 §3.4.2.2.
            for filter in ["userName%20eq%20%22jsmith%22", "username%20Eq%20%22JSMITH%22", "emails%20Co%20%22jsmith%40example.com%22"] {
                #expect(ping.expectList(try ping.send(.get, "/Users?filter=\(filter)"), total: 1).first?["id"]?.string == u, "\(filter)")
            }
            // Ping's documented [docs/idp-behaviour.md#ping-lookups-by-filter] `email Co "…"` is PingOne's own directory attribute: against SCIM it names no attribute, and the admin
            // gets a precise 400 rather than a silent empty result.
            let unknown = try ping.send(.get, "/Users?filter=email%20Co%20%22jsmith%40example.com%22")
            ping.expectError(unknown, 400, scimType: "invalidFilter")
            #expect(unknown.json["detail"]?.string?.contains("'email'") == true)
            // Updates are PUTs [docs/idp-behaviour.md#ping-overview].
            let renamed = try ping.send(.put, "/Users/\(u)", #"{"userName":"jsmith","name":{"givenName":"Johnny","familyName":"Smith"},"emails":[{"value":"jsmith@example.com","type":"work","primary":true}],"active":true}"#)
            ping.expectResource(renamed)
            #expect(renamed.json["name"]?["givenName"] == "Johnny")
            // Remove User Action = Disable: a PUT with active:false [docs/idp-behaviour.md#ping-user-updates-and-removal]; then enabled again.
            let disabled = try ping.send(.put, "/Users/\(u)", #"{"userName":"jsmith","name":{"givenName":"Johnny","familyName":"Smith"},"emails":[{"value":"jsmith@example.com","type":"work","primary":true}],"active":false}"#)
            ping.expectResource(disabled)
            #expect(try ping.storedUser(u)?.active == false)
            #expect(try ping.send(.get, "/Users/\(u)").json["active"] == false)
            let enabled = try ping.send(.put, "/Users/\(u)", #"{"userName":"jsmith","name":{"givenName":"Johnny","familyName":"Smith"},"active":true}"#)
            #expect(enabled.id == u && enabled.json["active"] == true)
            #expect(try ping.storedUser(u)?.active == true)
            // Remove User Action = Delete [docs/idp-behaviour.md#ping-user-updates-and-removal].
            #expect(try ping.send(.delete, "/Users/\(u)").status == 204)
            ping.expectError(try ping.send(.get, "/Users/\(u)"), 404)
            #expect(try ping.quirks() == [:])
        }

        @Test func groupMatchingByListingAllGroups() throws {
            let ping = try ping("ping-groups", region: .us)
            let u = try ping.create("/Users", #"{"userName":"member@ping.example"}"#).id
            var created: [String: String] = [:]
            for name in ["Alpha", "Bravo", "Charlie", "Delta", "Echo"] {
                created[name] = try ping.create("/Groups", #"{"displayName":"\#(name)"}"#).id
            }
            // "retrieving all groups and finding a match" [docs/idp-behaviour.md#ping-overview]: every group exactly once across the pages.
            var seen: [String: String] = [:]
            var start = 1
            while true {
                let page = ping.expectList(try ping.send(.get, "/Groups?startIndex=\(start)&count=2"), total: 5, startIndex: start)
                if page.isEmpty { break }
                for g in page {
                    let name = g["displayName"]?.string ?? ""
                    #expect(seen[name] == nil, "\(name) listed twice")
                    seen[name] = g["id"]?.string
                }
                start += page.count
            }
            #expect(seen == created)
            // Then PATCH (when enabled) or PUT, and DELETE [docs/idp-behaviour.md#ping-overview].
            let echo = created["Echo"]!
            ping.expectResource(try ping.send(.patch, "/Groups/\(echo)", patchOps(#"{"op":"add","path":"members","value":[{"value":"\#(u)"}]}"#)))
            #expect(try ping.storedMembers(echo) == [u])
            ping.expectResource(try ping.send(.put, "/Groups/\(echo)", #"{"displayName":"Echo","members":[]}"#))
            #expect(try ping.storedMembers(echo) == [])
            #expect(try ping.send(.delete, "/Groups/\(echo)").status == 204)
            #expect(try ping.quirks() == [:])
        }
    }

    /// Rippling custom app "User Management via SCIM" [docs/idp-behaviour.md#rippling-overview]; the Test connection probe is [docs/idp-behaviour.md#rippling-connection-test].
    /// Its headers are not in docs/idp-behaviour.md [docs/idp-behaviour.md#how-to-read-this-file]: `application/scim+json` bodies, `Accept: */*`.
    @Suite struct RipplingSCIM {
        static let headers: [(String, String)] = [("Accept", "*/*")]

        @Test func hireUpdateTerminateRehireAndMutuallyExclusiveGroups() throws {
            let rippling = try IdPClient.provision("rippling", region: .eu2, headers: Self.headers, bodyType: "application/scim+json",
                                                   expectedType: MediaType.scim)
            let spc = try rippling.send(.get, "/ServiceProviderConfig")
            #expect(spc.status == 200 && spc.contentType == MediaType.scim)
            #expect(spc.json["patch"]?["supported"] == true && spc.json["filter"]?["supported"] == true)
            #expect(spc.json["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])

            // Match existing by userName [docs/idp-behaviour.md#how-to-read-this-file], then POST on hire with Rippling's attribute set [docs/idp-behaviour.md#rippling-overview].
            rippling.expectList(try rippling.send(.get, "/Users?filter=userName%20eq%20%22hire%40rippling.example%22"), total: 0)
            let hire = """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                 "userName":"hire@rippling.example","externalId":"rippling-0001","name":{"givenName":"Hank","familyName":"Hire"},
                 "emails":[{"value":"hire@rippling.example","primary":true}],"active":true,
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"E-0001"}}
                """
            let created = try rippling.create("/Users", hire)
            let u = created.id
            #expect(created.json["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == ["employeeNumber": "E-0001"])
            // A retried POST [docs/idp-behaviour.md#how-to-read-this-file] is 409, not a second user. docs/idp-behaviour.md suggests idempotent POSTs on externalId [docs/idp-behaviour.md#how-to-read-this-file]; Entra's
            // and Okta's own suites require 409 for a repeated create [docs/idp-behaviour.md#microsoft-reference-tests][docs/idp-behaviour.md#okta-spec-test], so we follow those: Rippling then matches
            // the existing user by its lookup.
            rippling.expectError(try rippling.send(.post, "/Users", hire), 409, scimType: "uniqueness")
            #expect(rippling.expectList(try rippling.send(.get, "/Users?filter=externalId%20eq%20%22rippling-0001%22"), total: 1).first?["id"]?.string == u)

            // Profile change and termination by PATCH [docs/idp-behaviour.md#how-to-read-this-file]; rehire by PATCH active:true keeps the id.
            let changed = try rippling.send(.patch, "/Users/\(u)", patchOps(#"{"op":"replace","path":"name.familyName","value":"Hired"}"#))
            rippling.expectResource(changed)
            let terminated = try rippling.send(.patch, "/Users/\(u)", patchOps(#"{"op":"replace","path":"active","value":false}"#))
            rippling.expectResource(terminated)
            #expect(try rippling.storedUser(u)?.active == false)
            #expect(try rippling.send(.get, "/Users/\(u)").json["active"] == false)
            let rehired = try rippling.send(.patch, "/Users/\(u)", patchOps(#"{"op":"replace","path":"active","value":true}"#))
            #expect(rehired.id == u && rehired.json["active"] == true && rehired.json["name"]?["familyName"] == "Hired")
            #expect(try rippling.storedUser(u)?.active == true)

            // "Mutually Exclusive Groups" with "Use PATCH to edit Groups" [docs/idp-behaviour.md#rippling-overview]: moving the user is a remove and an add.
            let sales = try rippling.create("/Groups", #"{"displayName":"Sales","members":[{"value":"\#(u)"}]}"#).id
            let support = try rippling.create("/Groups", #"{"displayName":"Support"}"#).id
            rippling.expectResource(try rippling.send(.patch, "/Groups/\(sales)", patchOps(#"{"op":"remove","path":"members[value eq \"\#(u)\"]"}"#)))
            rippling.expectResource(try rippling.send(.patch, "/Groups/\(support)", patchOps(#"{"op":"add","path":"members","value":[{"value":"\#(u)"}]}"#)))
            #expect(try rippling.storedMembers(sales) == [] && rippling.storedMembers(support) == [u])
            // Without the PATCH flag, groups are edited by PUT [docs/idp-behaviour.md#rippling-overview].
            rippling.expectResource(try rippling.send(.put, "/Groups/\(sales)", #"{"displayName":"Sales","members":[{"value":"\#(u)"}]}"#))
            #expect(try rippling.storedMembers(sales) == [u])
            // "Create & Delete Groups" [docs/idp-behaviour.md#rippling-overview]; termination by DELETE [docs/idp-behaviour.md#how-to-read-this-file].
            #expect(try rippling.send(.delete, "/Groups/\(support)").status == 204)
            #expect(try rippling.send(.delete, "/Users/\(u)").status == 204)
            #expect(try rippling.storedMembers(sales) == [])
            #expect(try rippling.quirks() == [:])
        }
    }
}
