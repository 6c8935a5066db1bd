import JSON
import SCIMCore

/// Parses JSON test text (fails the test on invalid JSON).
func json(_ text: String) -> JSONValue {
    do { return try JSONDecoder.decode(text) } catch { fatalError("bad test JSON: \(error)") }
}

/// Parses JSON object test text.
func object(_ text: String) -> JSONObject {
    guard case .object(let o) = json(text) else { fatalError("test JSON is not an object") }
    return o
}

let registry = SchemaRegistry.standard
let userSchema = registry.resourceSchema("User")!
let groupSchema = registry.resourceSchema("Group")!

/// A stored user as the backend would hold it.
let storedUser = object("""
{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
 "id":"2819c223-7f76-453a-919d-413861904646","externalId":"bjensen","userName":"bjensen@example.com",
 "name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"Barbara"},
 "displayName":"Babs Jensen","nickName":"Babs","title":"Tour Guide","userType":"Employee","active":true,
 "emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
 "phoneNumbers":[{"value":"555-555-8377","type":"work"}],
 "addresses":[{"type":"work","streetAddress":"100 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"USA","primary":true},
              {"type":"home","streetAddress":"456 Hollywood Blvd","locality":"Hollywood","region":"CA","postalCode":"91608","country":"USA"}],
 "roles":[{"value":"admin","type":"system"}],
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}},
 "meta":{"resourceType":"User","created":"2010-01-23T04:56:22Z","lastModified":"2011-05-13T04:42:34Z","version":"W/\\"3694e05e9dff591\\"","location":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"}}
""")

let storedGroup = object("""
{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"e9e30dba-f08f-4109-8486-d5c6a331660a","displayName":"Tour Guides",
 "meta":{"resourceType":"Group","created":"2010-01-23T04:56:22Z","lastModified":"2011-05-13T04:42:34Z","version":"W/\\"3694e05e9dff592\\"","location":"https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a"}}
""")

/// Runs a throwing SCIM call and returns its error (nil on success).
func scimError<T>(_ body: () throws -> T) -> SCIMError? {
    do { _ = try body(); return nil } catch let e as SCIMError { return e } catch { return SCIMError(status: 0, detail: "not a SCIMError") }
}

/// Applies a PATCH body (text) to a document.
func patch(_ body: String, _ doc: JSONObject = storedUser, schema: ResourceSchema = userSchema) throws(SCIMError) -> PatchResult {
    try schema.applyPatch(PatchRequest.parse(json(body)), to: doc)
}

extension JSONObject {
    var text: String { JSONValue.object(self).description }
}
