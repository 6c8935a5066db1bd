import HTTPCore
import JSON
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import SCIMCore
import Testing

@Suite struct UserTests {
    let region: Region
    init() throws { region = try Region() }

    @Test func createReturns201WithLocationEqualToMetaLocationAndTheFullResource() throws {
        let t = region.tenant()
        let response = t.send(.post, "/Users", """
            {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
             "userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},
             "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User",
             "locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true,
             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}
            """)
        #expect(response.status.code == 201)
        #expect(response.headers["Content-Type"] == "application/scim+json; charset=utf-8")
        let body = response.json
        let id = try #require(body["id"]?.string)
        #expect(UUIDText.canonical(id) == id)
        #expect(response.headers["Location"] == "https://eu2-api.example.com/scim/v2/Users/\(id)")
        #expect(body["meta"]?["location"]?.string == response.headers["Location"])
        #expect(body["meta"]?["resourceType"] == "User")
        #expect(body["meta"]?["version"] == "W/\"1\"")
        #expect(response.headers["ETag"] == "W/\"1\"")
        #expect(body["userName"] == "test.user@okta.local")
        #expect(body["name"] == ["familyName": "User", "givenName": "Test"])
        #expect(body["externalId"] == "00ujl29u0le5T6Aj10h7")
        #expect(body["active"] == true)
        #expect(body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == ["department": "Sales"])
        // The password is never stored nor returned; readOnly `groups` input is ignored.
        #expect(body["password"] == nil)
        #expect(body["groups"] == nil)
        #expect(body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User",
                                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"])
        let fetched = t.send(.get, "/Users/\(id)")
        #expect(fetched.status.code == 200)
        #expect(fetched.json == body)
    }

    @Test func getUnknownOrMalformedIdIs404WithAnErrorBody() {
        let t = region.tenant()
        for id in ["010101001010101011001010101011", "00919288221112222", "0c1d5e8c-2b40-4b44-9d5e-6fd0e3a4c5a7"] {
            let response = t.send(.get, "/Users/\(id)")
            #expect(response.status.code == 404)
            #expect(response.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"])
            #expect(response.json["status"] == "404")
            #expect(response.detail == "User \(id) not found")
        }
    }

    @Test func userNameIsUniqueCaseInsensitivelyAndExternalIdIsNot() {
        let t = region.tenant()
        let first = t.user("Runscope300Hfluaklab151@example.com", #","externalId":"ext-1""#)
        let duplicate = t.send(.post, "/Users", #"{"userName":"RUNSCOPE300HFLUAKLAB151@example.com"}"#)
        #expect(duplicate.status.code == 409)
        #expect(duplicate.scimType == "uniqueness")
        #expect(duplicate.detail == "userName is already in use in this tenant")
        // RFC 7643 §3.1: the server does not enforce externalId uniqueness. Both exist, the filter returns both.
        let second = t.user("other", #","externalId":"ext-1""#)
        #expect(second != first)
        #expect(Set(t.ids("/Users?filter=externalId%20eq%20%22ext-1%22")) == [first, second])
        // externalId is caseExact: a different case is a different value.
        let third = t.user("third", #","externalId":"EXT-1""#)
        #expect(t.ids("/Users?filter=externalId%20eq%20%22EXT-1%22") == [third])
        // Okta SPEC R9: the lookup in another case finds the user.
        #expect(t.ids("/Users?filter=userName%20eq%20%22RUNSCOPE300HFLUAKLAB151@example.com%22").count == 1)
    }

    /// The per-tenant opt-in: a second live user with the same externalId is a 409 on POST, PUT and PATCH; a deleted
    /// user's externalId is free; turning it on over existing duplicates is refused.
    @Test func uniqueExternalIdIsATenantOptIn() {
        let t = region.tenant(policy: .hard, extra: #","uniqueExternalId":true"#)
        let a = t.user("a@example.com", #","externalId":"x-1""#)
        let post = t.send(.post, "/Users", #"{"userName":"b@example.com","externalId":"x-1"}"#)
        #expect(post.status.code == 409)
        #expect(post.scimType == "uniqueness")
        let b = t.user("b@example.com", #","externalId":"x-2""#)
        #expect(t.send(.patch, "/Users/\(b)", patchOp(#"{"op":"replace","path":"externalId","value":"x-1"}"#)).status.code == 409)
        #expect(t.send(.put, "/Users/\(b)", #"{"userName":"b@example.com","externalId":"x-1"}"#).status.code == 409)
        // Writing its own value again is no conflict.
        #expect(t.send(.put, "/Users/\(a)", #"{"userName":"a@example.com","externalId":"x-1","title":"t"}"#).status.code == 200)
        #expect(t.send(.delete, "/Users/\(a)").status.code == 204)
        #expect(t.send(.patch, "/Users/\(b)", patchOp(#"{"op":"replace","path":"externalId","value":"x-1"}"#)).status.code == 200)
        // Twenty concurrent creators of one externalId: exactly one wins (the advisory lock serialises them).
        let statuses = Collected<Int>()
        onThreads(20) { i in
            statuses.append(t.send(.post, "/Users", #"{"userName":"race\#(i)@example.com","externalId":"x-race"}"#).status.code)
        }
        #expect(statuses.all.filter { $0 == 201 }.count == 1)
        #expect(statuses.all.filter { $0 == 409 }.count == 19)
        // Off by default, and cannot be turned on while duplicates exist.
        let open = region.tenant()
        open.user("p@example.com", #","externalId":"dup""#)
        open.user("q@example.com", #","externalId":"dup""#)
        let turnOn = region.send(.put, "/internal/v1/tenants/\(open.id)", tenant: open.id,
                                 body: #"{"name":"t","deprovisionPolicy":"hard","uniqueExternalId":true}"#)
        #expect(turnOn.status.code == 409)
        #expect(turnOn.detail?.contains("1 externalId values are held by more than one user") == true)
    }

    @Test func anotherTenantMayUseTheSameUserName() {
        let a = region.tenant(), b = region.tenant()
        let ida = a.user("same@example.com")
        let idb = b.user("same@example.com")
        #expect(ida != idb)
        #expect(b.send(.get, "/Users/\(ida)").status.code == 404)
        #expect(b.ids("/Users") == [idb])
        #expect(b.send(.delete, "/Users/\(ida)").status.code == 404)
        #expect(a.send(.get, "/Users/\(ida)").status.code == 200)
    }

    @Test func putReplacesHonouringMutabilityAndRoundTripsTheGetOutput() throws {
        let t = region.tenant()
        let id = t.user("jane@example.com", #","name":{"givenName":"Jane","familyName":"Doe"},"title":"Engineer","active":true"#)
        let current = t.send(.get, "/Users/\(id)").json
        // Okta AIW: PUT the server's own output with edits; `meta` dates in a non-ISO format must be ignored.
        var edited = try #require(current.object)
        edited["name"] = ["givenName": "Another", "middleName": "Excited", "familyName": "User"]
        edited["meta"] = ["resourceType": "User", "created": "04-12-2018 00:00:00", "version": "v1.0"]
        edited["id"] = "ignored-because-readOnly"
        let response = t.send(.put, "/Users/\(id)", JSONValue.object(edited).description)
        #expect(response.status.code == 200)
        #expect(response.json["id"]?.string == id)
        #expect(response.json["name"] == ["familyName": "User", "givenName": "Another", "middleName": "Excited"])
        #expect(response.json["title"] == "Engineer")
        #expect(response.json["meta"]?["version"] == "W/\"2\"")
        #expect(response.json["meta"]?["created"] == current["meta"]?["created"])
        // A PUT without `title` removes it; unknown attributes are ignored (Entra `adreses`).
        let replaced = t.send(.put, "/Users/\(id)", #"{"userName":"jane@example.com","adreses":[{"x":1}],"emails":null}"#)
        #expect(replaced.status.code == 200)
        #expect(replaced.json["title"] == nil)
        #expect(replaced.json["name"] == nil)
        // PUT without userName is 400.
        let missing = t.send(.put, "/Users/\(id)", #"{"displayName":"x"}"#)
        #expect(missing.status.code == 400)
        #expect(missing.scimType == "invalidValue")
        // An unchanged PUT keeps the version.
        let same = t.send(.put, "/Users/\(id)", #"{"userName":"jane@example.com"}"#)
        #expect(same.json["meta"]?["version"] == "W/\"3\"")
        #expect(t.send(.put, "/Users/\(id)", #"{"userName":"jane@example.com"}"#).json["meta"]?["version"] == "W/\"3\"")
    }

    @Test func patchReturns200WithTheFullResourceInBothEntraDialects() {
        let t = region.tenant()
        let id = t.user("adele@contoso.com", #","emails":[{"type":"work","value":"adele@contoso.com","primary":true},{"type":"home","value":"a@home.example"}],"active":true"#)
        // Entra default dialect: capitalised ops, "False" as a string, valuePath creating a missing element.
        let entra = t.send(.patch, "/Users/\(id)", patchOp("""
            {"op":"Replace","path":"emails[type eq \\"work\\"].value","value":"AdeleV2@contoso.onmicrosoft.com"},
            {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Retail"},
            {"op":"Add","path":"addresses[type eq \\"work\\"].formatted","value":"18/2111"},
            {"op":"Add","path":"addresses[type eq \\"work\\"].locality","value":"Redmond"},
            {"op":"Replace","path":"active","value":"False"}
            """))
        #expect(entra.status.code == 200)
        #expect(entra.json["active"] == false)
        #expect(entra.json["emails"] == [["value": "AdeleV2@contoso.onmicrosoft.com", "type": "work", "primary": true],
                                         ["value": "a@home.example", "type": "home"]])
        #expect(entra.json["addresses"] == [["formatted": "18/2111", "locality": "Redmond", "type": "work"]])
        #expect(entra.json["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == ["department": "Retail"])
        // The deactivated user is still returned by GET and by filters (Entra checks with a later GET).
        #expect(t.send(.get, "/Users/\(id)").json["active"] == false)
        #expect(t.ids("/Users?filter=active%20eq%20false") == [id])
        // Entra compliant dialect: no-path replace with dotted and URN keys.
        let compliant = t.send(.patch, "/Users/\(id)", patchOp("""
            {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}
            """))
        #expect(compliant.status.code == 200)
        #expect(compliant.json["name"] == ["familyName": "Unua", "givenName": "Kkom"])
        #expect(compliant.json["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == ["employeeNumber": "Aklq", "department": "Retail"])
        // Okta no-path reactivation.
        let okta = t.send(.patch, "/Users/\(id)", #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}"#)
        #expect(okta.json["active"] == true)
        #expect(okta.json["meta"]?["version"] == "W/\"4\"")
        // The new work email is what filters see (the email rows follow the document).
        #expect(t.ids("/Users?filter=emails.value%20eq%20%22adelev2@contoso.onmicrosoft.com%22") == [id])
        #expect(t.ids("/Users?filter=emails.value%20eq%20%22adele@contoso.com%22").isEmpty)
    }

    @Test func patchErrorsLeaveTheResourceUntouched() {
        let t = region.tenant()
        let id = t.user("keep@example.com", #","title":"A""#)
        let bad = t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","path":"title","value":"B"},{"op":"remove","path":"userName"}"#))
        #expect(bad.status.code == 400)
        #expect(bad.scimType == "invalidValue")
        #expect(t.send(.get, "/Users/\(id)").json["title"] == "A")
        let readOnly = t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"add","path":"groups","value":[{"value":"x"}]}"#))
        #expect(readOnly.status.code == 400)
        #expect(readOnly.scimType == "mutability")
        let syntax = t.send(.patch, "/Users/\(id)", #"{"Operations":"nope"}"#)
        #expect(syntax.status.code == 400)
        #expect(syntax.scimType == "invalidSyntax")
        let conflict = t.user("taken@example.com")
        let rename = t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","path":"userName","value":"TAKEN@example.com"}"#))
        #expect(rename.status.code == 409)
        #expect(t.send(.get, "/Users/\(id)").json["userName"] == "keep@example.com")
        #expect(t.send(.get, "/Users/\(conflict)").status.code == 200)
    }

    @Test func hardDeleteThen404AndTheUserNameIsFree() {
        let t = region.tenant(policy: .hard)
        let id = t.user("gone@example.com")
        #expect(t.send(.delete, "/Users/\(id)").status.code == 204)
        #expect(t.send(.get, "/Users/\(id)").status.code == 404)
        #expect(t.send(.delete, "/Users/\(id)").status.code == 404)
        let again = t.user("gone@example.com")
        #expect(again != id)
    }

    /// Soft delete: a tombstone that answers 404 to every operation forever; a later POST with its userName or
    /// externalId creates a new user with a new id and none of the old one's groups (issue 15).
    @Test func softDeletedIdStays404AndARePostIsANewUserWithoutGroups() throws {
        let t = region.tenant(policy: .soft)
        let id = t.user("soft@example.com", #","externalId":"e-1","title":"Before""#)
        let admins = t.group("Admins", #","members":[{"value":"\#(id)"}]"#)
        #expect(t.send(.delete, "/Users/\(id)").status.code == 204)
        // Deprovisioning removed the membership in the same transaction.
        #expect(t.send(.get, "/Groups/\(admins)").json["members"] == nil)
        #expect(t.ids("/Users?filter=userName%20eq%20%22soft@example.com%22").isEmpty)
        let again = t.send(.post, "/Users", #"{"userName":"Soft@Example.com","active":true,"displayName":"Back","externalId":"e-1"}"#)
        #expect(again.status.code == 201)
        let newID = try #require(again.json["id"]?.string)
        #expect(newID != id)
        #expect(again.json["title"] == nil)
        #expect(again.json["groups"] == nil)
        #expect(again.json["meta"]?["version"] == "W/\"1\"")
        // By externalId only, with a new userName: also a new user.
        let byExternal = t.send(.post, "/Users", #"{"userName":"renamed@example.com","externalId":"e-1"}"#)
        #expect(byExternal.status.code == 201)
        #expect(byExternal.json["id"]?.string != id)
        // The old id is 404 for every operation, for good.
        #expect(t.send(.get, "/Users/\(id)").status.code == 404)
        #expect(t.send(.delete, "/Users/\(id)").status.code == 404)
        #expect(t.send(.put, "/Users/\(id)", #"{"userName":"soft@example.com"}"#).status.code == 404)
        #expect(t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","path":"active","value":true}"#)).status.code == 404)
        #expect(t.send(.patch, "/Groups/\(admins)", patchOp(#"{"op":"add","path":"members","value":[{"value":"\#(id)"}]}"#)).status.code == 400)
        #expect(t.send(.get, "/Groups/\(admins)").json["members"] == nil)
        // The tombstone keeps its data for the operator, and the database refuses to bring it back.
        let admin = try PostgresConnection(configuration: RegionTestDatabase.get().adminConfiguration)
        let row = try admin.query("SELECT user_name, deleted_at IS NOT NULL FROM users WHERE id = $1::uuid", [.text(id)])
        #expect(row.string(row: 0, column: 0) == "soft@example.com")
        #expect(row.bool(row: 0, column: 1) == true)
        #expect(throws: PostgresError.self) {
            try admin.query("UPDATE users SET deleted_at = NULL WHERE id = $1::uuid", [.text(id)])
        }
    }

    /// A deactivated user still exists (`active` is only an attribute): a POST with its userName is a 409 and
    /// changes nothing; one with only its externalId creates someone else and takes over nothing.
    @Test func postNeverTakesOverADeactivatedUser() throws {
        let t = region.tenant()
        let id = t.user("omalley@example.com", #","externalId":"00u1","active":true,"title":"Site engineer""#)
        let admins = t.group("Admins", #","members":[{"value":"\#(id)"}]"#)
        t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","value":{"active":false}}"#))
        let sameName = t.send(.post, "/Users", #"{"userName":"OMALLEY@example.com","externalId":"00u1","active":true}"#)
        #expect(sameName.status.code == 409)
        #expect(sameName.scimType == "uniqueness")
        let kept = t.send(.get, "/Users/\(id)").json
        #expect(kept["title"] == "Site engineer")
        #expect(kept["active"] == false)
        #expect(kept["meta"]?["version"] == "W/\"2\"")
        // Same externalId, different userName: a new person with a new id and no groups.
        let newHire = t.send(.post, "/Users", #"{"userName":"newhire@example.com","externalId":"00u1","active":true}"#)
        #expect(newHire.status.code == 201)
        let newID = try #require(newHire.json["id"]?.string)
        #expect(newID != id)
        #expect(newHire.json["groups"] == nil)
        #expect(t.send(.get, "/Users/\(newID)").json["groups"] == nil)
        #expect(t.send(.get, "/Groups/\(admins)").json["members"]?.array?.compactMap { $0["value"]?.string } == [id])
        #expect(t.ids("/Users?filter=userName%20eq%20%22omalley@example.com%22") == [id])
        #expect(Set(t.ids("/Users?filter=externalId%20eq%20%2200u1%22")) == [id, newID])
        // Reactivation is a PATCH of the existing user, as Okta and Entra do it.
        #expect(t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","path":"active","value":true}"#)).json["active"] == true)
    }

    /// A new user's email rows are written by the same statement as the user.
    @Test func createWritesEmailRows() throws {
        let t = region.tenant()
        let fresh = t.user("fresh@example.com", #","emails":[{"value":"fresh.work@example.com"},{"value":"Other@Example.com"}]"#)
        #expect(t.ids("/Users?filter=emails.value%20eq%20%22FRESH.work@example.com%22") == [fresh])
        let admin = try PostgresConnection(configuration: RegionTestDatabase.get().adminConfiguration)
        let rows = try admin.query("SELECT email_key FROM user_emails WHERE user_id = $1::uuid ORDER BY email_key", [.text(fresh)])
        #expect((0..<rows.rowCount).compactMap { rows.string(row: $0, column: 0) } == ["fresh.work@example.com", "other@example.com"])
    }

    @Test func refusePolicyAnswers405AndKeepsTheUser() {
        let t = region.tenant(policy: .refuse)
        let id = t.user("keep@profit.co")
        let response = t.send(.delete, "/Users/\(id)")
        #expect(response.status.code == 405)
        #expect(response.json["status"] == "405")
        #expect(response.detail == "this tenant does not support deletion of users; deactivate the user (active=false) instead")
        #expect(t.send(.get, "/Users/\(id)").status.code == 200)
        // Deactivation is the way: kept and still visible.
        t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","path":"active","value":false}"#))
        #expect(t.send(.get, "/Users/\(id)").json["active"] == false)
    }

    @Test func etagsIfNoneMatchAndIfMatch() {
        let t = region.tenant()
        let id = t.user("etag@example.com")
        let get = t.send(.get, "/Users/\(id)")
        #expect(get.headers["ETag"] == "W/\"1\"")
        let notModified = t.send(.get, "/Users/\(id)", headers: [("If-None-Match", "W/\"1\"")])
        #expect(notModified.status.code == 304)
        #expect(notModified.body.isEmpty)
        #expect(t.send(.get, "/Users/\(id)", headers: [("If-None-Match", "W/\"7\"")]).status.code == 200)
        let stale = t.send(.put, "/Users/\(id)", #"{"userName":"etag@example.com","title":"x"}"#, headers: [("If-Match", "W/\"9\"")])
        #expect(stale.status.code == 412)
        #expect(t.send(.get, "/Users/\(id)").json["title"] == nil)
        let fresh = t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"add","path":"title","value":"x"}"#), headers: [("If-Match", "W/\"1\"")])
        #expect(fresh.status.code == 200)
        #expect(fresh.headers["ETag"] == "W/\"2\"")
        #expect(t.send(.delete, "/Users/\(id)", headers: [("If-Match", "\"1\"")]).status.code == 412)
        #expect(t.send(.delete, "/Users/\(id)", headers: [("If-Match", "*")]).status.code == 204)
    }

    @Test func attributesAndExcludedAttributesOnSingleResources() {
        let t = region.tenant()
        let id = t.user("proj@example.com", #","displayName":"P","emails":[{"value":"p@example.com","type":"work"}]"#)
        let only = t.send(.get, "/Users/\(id)?attributes=emails.value")
        #expect(only.json == ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": .string(id),
                              "emails": [["value": "p@example.com"]]])
        let without = t.send(.get, "/Users/\(id)?excludedAttributes=emails,meta,displayName")
        #expect(without.json["emails"] == nil)
        #expect(without.json["displayName"] == nil)
        #expect(without.json["userName"] == "proj@example.com")
        #expect(without.json["id"]?.string == id)
        let created = t.send(.post, "/Users?attributes=userName", #"{"userName":"x@example.com","title":"t"}"#)
        #expect(created.status.code == 201)
        #expect(created.json["title"] == nil)
        #expect(created.json["userName"] == "x@example.com")
    }

    @Test func nulValuesAreRejectedAsInvalidValue() {
        let t = region.tenant()
        let response = t.send(.post, "/Users", #"{"userName":"nul\u0000name"}"#)
        #expect(response.status.code == 400)
        #expect(response.scimType == "invalidValue")
    }
}
