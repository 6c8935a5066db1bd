// Micro-benchmarks for JSON and SCIMCore. Run: swift run -c release scimcore-bench
import JSON
import SCIMCore

/// Runs `body` `iterations` times per round, 7 rounds, and prints the best ns/op (least disturbed by other load).
/// Returns the sum of the body's results so the optimiser cannot drop the work.
@discardableResult
func measure(_ name: String, iterations: Int, _ body: () throws -> Int) rethrows -> Int {
    let clock = ContinuousClock()
    var sink = 0
    var best = Duration.seconds(1000)
    for _ in 0..<7 {
        let start = clock.now
        for _ in 0..<iterations { sink &+= try body() }
        let elapsed = clock.now - start
        if elapsed < best { best = elapsed }
    }
    let c = best.components
    let ns = (Double(c.seconds) * 1e9 + Double(c.attoseconds) / 1e9) / Double(iterations)
    let text = ns >= 1000 ? "\(Double(Int(ns / 10)) / 100) µs" : "\(Int(ns)) ns"
    print("\(name.padding(54)) \(text)")
    return sink
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

let userText = #"""
{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"id":"2819c223-7f76-453a-919d-413861904646","externalId":"701984","userName":"bjensen@example.com","name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Jensen","givenName":"Barbara","middleName":"Jane","honorificPrefix":"Ms.","honorificSuffix":"III"},"displayName":"Babs Jensen","nickName":"Babs","profileUrl":"https://login.example.com/bjensen","emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],"addresses":[{"type":"work","streetAddress":"100 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"USA","formatted":"100 Universal City Plaza\nHollywood, CA 91608 USA","primary":true}],"phoneNumbers":[{"value":"555-555-5555","type":"work"},{"value":"555-555-4444","type":"mobile"}],"userType":"Employee","title":"Tour Guide","preferredLanguage":"en-US","locale":"en-US","timezone":"America/Los_Angeles","active":true,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","costCenter":"4130","organization":"Universal Studios","division":"Theme Park","department":"Tour Operations","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}},"meta":{"resourceType":"User","created":"2010-01-23T04:56:22Z","lastModified":"2011-05-13T04:42:34Z","version":"W/\"3694e05e9dff591\"","location":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"}}
"""#
let userBytes = Array(userText.utf8)
let user = try! JSONDecoder.decode(userBytes)
let userObject = user.object!
let schema = SchemaRegistry.standard.resourceSchema("User")!

let patchText = #"""
{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
 {"op":"Replace","path":"emails[type eq \"work\"].value","value":"AdeleV2@contoso.onmicrosoft.com"},
 {"op":"Replace","path":"addresses[type eq \"work\"].formatted","value":"18/2111"},
 {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Retail"},
 {"op":"Replace","path":"name.givenName","value":"Gtfd"},
 {"op":"Replace","path":"name.familyName","value":"Pkqf"},
 {"op":"Replace","path":"displayName","value":"Pvlo"},
 {"op":"Replace","path":"externalId","value":"Eqpj"},
 {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Eqpj"},
 {"op":"Add","path":"nickName","value":"Babs"},
 {"op":"Replace","path":"active","value":"False"}]}
"""#
let patchBytes = Array(patchText.utf8)
let patchRequest = try! PatchRequest.parse(try! JSONDecoder.decode(patchBytes))

let simpleFilter = #"userName eq "bjensen@example.com""#
let typicalFilter = #"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
let valuePathFilter = #"emails[type eq "work" and value co "@example.com"] and meta.lastModified gt "2011-05-13T04:42:34Z""#
let resolvedTypical = try! schema.parseFilter(typicalFilter)

print("JSON user document: \(userBytes.count) bytes; PATCH body: \(patchBytes.count) bytes, \(patchRequest.operations.count) ops")
try measure("JSON decode 1 KB user", iterations: 20_000) { try JSONDecoder.decode(userBytes).object!.count }
measure("JSON encode 1 KB user", iterations: 20_000) { user.encoded().count }
measure("JSON encode 1 KB user (append into [UInt8])", iterations: 20_000) {
    var out: [UInt8] = []
    JSONEncoder.encode(user, into: &out)
    return out.count
}
try measure("filter parse: userName eq", iterations: 100_000) { _ = try FilterParser.parse(simpleFilter); return 1 }
try measure("filter parse: typical (and/or/parens)", iterations: 50_000) { _ = try FilterParser.parse(typicalFilter); return 1 }
try measure("filter parse+resolve: typical", iterations: 50_000) { _ = try schema.parseFilter(typicalFilter); return 1 }
try measure("filter parse+resolve: value path + dateTime", iterations: 50_000) { _ = try schema.parseFilter(valuePathFilter); return 1 }
measure("filter evaluate: typical on 1 KB user", iterations: 100_000) { resolvedTypical.matches(userObject) ? 1 : 0 }
try measure("PATCH apply 10 ops (pre-parsed) to user", iterations: 20_000) { try schema.applyPatch(patchRequest, to: userObject).changedAttributes.count }
try measure("PATCH decode+parse+apply 10 ops to user", iterations: 20_000) {
    try schema.applyPatch(PatchRequest.parse(JSONDecoder.decode(patchBytes)), to: userObject).changedAttributes.count
}
try measure("create/replace normalise 1 KB user", iterations: 20_000) { try schema.normaliseForCreate(user).document.count }
measure("projection: parse attributes=userName,emails.value", iterations: 50_000) {
    Projection(schema: schema, attributes: "userName,emails.value", excludedAttributes: nil).includes("members") ? 1 : 0
}
let projection = Projection(schema: schema, attributes: "userName,emails.value", excludedAttributes: nil)
measure("projection: apply attributes=userName,emails.value", iterations: 50_000) { projection.apply(to: userObject).count }
let defaults = Projection(schema: schema)
measure("projection: apply defaults to 1 KB user", iterations: 50_000) { defaults.apply(to: userObject).count }
