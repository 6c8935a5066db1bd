import HTTPCore
import JSON
import TestSupport
import Testing

extension IdPReplay {
    /// The seed customers' attribute sets round-trip through the gateway (issue 6): Profit.co and Condeco. Their IdP is
    /// the customer's choice; these scenarios send Okta's headers.
    @Suite struct SeedAttributeSets {
        @Test func profitCoWithTheApiKeyScimKeyTokenForm() throws {
            // Profit.co never deletes users (deactivate instead) and asks for the token as two fields, API_KEY:SCIM_KEY.
            let profit = try IdPClient.provision("profit.co", region: .us, policy: "refuse", headers: Okta.headers,
                                                 bodyType: Okta.bodyType, expectedType: MediaType.scim)
            let auth = IdPClient.Authorization.header("Bearer \(profit.keyPair)")
            profit.expectList(try profit.send(.get, "/Users?startIndex=1&count=2", authorization: auth), total: 0)
            let body = """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                 "userName":"jane.doe@profit.co","name":{"givenName":"Jane","familyName":"Doe"},
                 "emails":[{"value":"jane.doe@profit.co","type":"work","primary":true}],"active":true,"title":"Head of OKRs",
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Strategy"}}
                """
            let created = try profit.send(.post, "/Users", body, authorization: auth)
            profit.expectResource(created, status: 201)
            var expected = try #require(parse(body).object)
            expected["id"] = .string(created.id)
            #expect(withoutMeta(created.json) == canonical(.object(expected)))
            let fetched = try profit.send(.get, "/Users/\(created.id)", authorization: auth)
            profit.expectResource(fetched)
            #expect(withoutMeta(fetched.json) == canonical(.object(expected)))
            // DELETE is refused (405) with a detail that says what to do; deactivation works and keeps the user.
            let refused = try profit.send(.delete, "/Users/\(created.id)", authorization: auth)
            profit.expectError(refused, 405)
            #expect(refused.json["detail"]?.string?.contains("active=false") == true)
            let off = try profit.send(.patch, "/Users/\(created.id)", patchOps(#"{"op":"replace","value":{"active":false}}"#), authorization: auth)
            profit.expectResource(off)
            #expect(try profit.storedUser(created.id)?.active == false)
        }

        @Test func condecoWithPerTenantValidators() throws {
            // Condeco validates preferredLanguage as ISO 639-1 and the address country as ISO 3166-1 alpha-2, per tenant.
            let settings: JSONObject = ["validators": [
                ["schema": "urn:ietf:params:scim:schemas:core:2.0:User", "attribute": "preferredLanguage", "rule": "iso639-1"],
                ["schema": "urn:ietf:params:scim:schemas:core:2.0:User", "attribute": "addresses.country", "rule": "iso3166-1-alpha2"],
            ]]
            let condeco = try IdPClient.provision("condeco", region: .eu2, headers: Entra.headers, bodyType: "application/scim+json",
                                                  expectedType: MediaType.scim, settings: settings)
            let (_, shown) = try condeco.deployment.admin(.get, "/admin/v1/tenants/\(condeco.tenant)")
            #expect(shown?["settings"]?["validators"]?.array?.count == 2)
            let body = """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                 "userName":"desk.booker@condeco.example","name":{"givenName":"Desk","familyName":"Booker"},
                 "emails":[{"value":"desk.booker@condeco.example","type":"work","primary":true}],"preferredLanguage":"en","active":true,
                 "addresses":[{"type":"work","locality":"London","country":"GB"}],
                 "phoneNumbers":[{"value":"+44 20 7946 0000","type":"work"},{"value":"+44 7700 900000","type":"mobile"}],
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Facilities","costCenter":"CC-4711"}}
                """
            let created = try condeco.create("/Users", body)
            var expected = try #require(parse(body).object)
            expected["id"] = .string(created.id)
            #expect(withoutMeta(created.json) == canonical(.object(expected)))
            #expect(withoutMeta(try condeco.send(.get, "/Users/\(created.id)").json) == canonical(.object(expected)))
            // Values the validators refuse: 400 invalidValue naming the rule, on create and on PATCH.
            for bad in [#""preferredLanguage":"english""#, #""preferredLanguage":"en-GB""#] {
                let r = try condeco.send(.post, "/Users", #"{"userName":"bad@condeco.example",\#(bad)}"#)
                condeco.expectError(r, 400, scimType: "invalidValue")
                #expect(r.json["detail"]?.string?.contains("ISO 639-1") == true)
            }
            condeco.expectError(try condeco.send(.post, "/Users", #"{"userName":"bad@condeco.example","addresses":[{"type":"work","country":"United Kingdom"}]}"#),
                                400, scimType: "invalidValue")
            let german = try condeco.send(.patch, "/Users/\(created.id)", patchOps(#"{"op":"replace","path":"preferredLanguage","value":"de"}"#))
            condeco.expectResource(german)
            #expect(german.json["preferredLanguage"] == "de")
            condeco.expectError(try condeco.send(.patch, "/Users/\(created.id)", patchOps(#"{"op":"replace","path":"preferredLanguage","value":"deu"}"#)),
                                400, scimType: "invalidValue")
            condeco.expectError(try condeco.send(.patch, "/Users/\(created.id)", patchOps(#"{"op":"replace","path":"addresses[type eq \"work\"].country","value":"XX"}"#)),
                                400, scimType: "invalidValue")
        }
    }
}
