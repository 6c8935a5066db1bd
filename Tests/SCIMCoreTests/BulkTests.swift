import Testing
import JSON
@testable import SCIMCore

@Suite struct BulkTests {
    /// RFC 7644 §3.7.2: a group POSTed before the user it references through `bulkId:qwerty`.
    let rfcBody = json("""
    {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1,"Operations":[
      {"method":"POST","path":"/Groups","bulkId":"ytrewq","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName":"Tour Guides","members":[{"type":"User","value":"bulkId:qwerty"}]}},
      {"method":"POST","path":"/Users","bulkId":"qwerty","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Alice"}},
      {"method":"PATCH","path":"/Groups/bulkId:ytrewq","data":{"Operations":[{"op":"remove","path":"members"}]}},
      {"method":"DELETE","path":"/Users/b7c14771-226c-4d05-8860-134711653041","version":"W/\\"0ee8add0a938e1a\\""}]}
    """)

    @Test func parsesOperationsAndTheirReferences() throws {
        let r = try BulkRequest.parse(rfcBody, maxOperations: 1000)
        #expect(r.failOnErrors == 1)
        let ops = try r.operations.map { try $0.get() }
        #expect(ops.map(\.method) == ["POST", "POST", "PATCH", "DELETE"])
        #expect(ops.map(\.path) == ["/Groups", "/Users", "/Groups/bulkId:ytrewq", "/Users/b7c14771-226c-4d05-8860-134711653041"])
        #expect(ops[3].version == "W/\"0ee8add0a938e1a\"")
        #expect(ops[0].references == ["qwerty"])
        #expect(ops[2].references == ["ytrewq"])
        let data = BulkRequest.substitute(ops[0].data!, ["qwerty": "92b725cd-9465-4e7d-8c16-01f8e146b87a"])
        #expect(data["members"]?.description == "[{\"type\":\"User\",\"value\":\"92b725cd-9465-4e7d-8c16-01f8e146b87a\"}]")
        #expect(BulkRequest.resolvePath(ops[2].path, ["ytrewq": "g-1"]) == ["Groups", "g-1"])
    }

    /// A bad envelope fails the request; a bad operation fails only itself.
    @Test(arguments: [
        ("[]", SCIMError.invalidSyntax("the BulkRequest must be a JSON object")),
        ("{\"schemas\":[\"urn:x\"],\"Operations\":[]}", .invalidSyntax("'schemas' must contain urn:ietf:params:scim:api:messages:2.0:BulkRequest")),
        ("{}", .invalidSyntax("the BulkRequest needs an 'Operations' array")),
        ("{\"failOnErrors\":-1,\"Operations\":[]}", .invalidValue("'failOnErrors' must be a non-negative integer")),
        ("{\"Operations\":[{},{},{}]}", SCIMError(status: 413, detail: "the bulk request has more than maxOperations (2) operations")),
    ])
    func envelopeErrors(body: String, expected: SCIMError) {
        #expect(scimError { try BulkRequest.parse(json(body), maxOperations: 2) } == expected)
    }

    @Test(arguments: [
        ("1", SCIMError.invalidSyntax("operation 0 must be a JSON object")),
        ("{\"method\":\"GET\",\"path\":\"/Users\"}", .invalidSyntax("operation 0: 'method' must be POST, PUT, PATCH or DELETE")),
        ("{\"method\":\"PUT\",\"path\":\"Users\",\"data\":{}}", .invalidSyntax("operation 0: 'path' must be a path such as /Users")),
        ("{\"method\":\"POST\",\"path\":\"/Users\",\"data\":{}}", .invalidSyntax("operation 0: a POST needs a 'bulkId'")),
        ("{\"method\":\"patch\",\"path\":\"/Users/1\"}", .invalidSyntax("operation 0: PATCH needs 'data'")),
    ])
    func operationErrors(op: String, expected: SCIMError) throws {
        let r = try BulkRequest.parse(json("{\"Operations\":[\(op),{\"method\":\"DELETE\",\"path\":\"/Users/2\"}]}"), maxOperations: 10)
        #expect(r.operations.count == 2)
        if case .failure(let e) = r.operations[0] { #expect(e == expected) } else { Issue.record("operation 0 parsed") }
        #expect((try? r.operations[1].get())?.method == "DELETE")
    }

    @Test func responseEnvelope() {
        let r = BulkResponse.envelope([
            BulkResponse.errorEntry(method: "DELETE", bulkID: nil, error: .notFound("Resource does not exist")),
        ])
        #expect(r.description == """
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkResponse"],"Operations":[{"method":"DELETE","status":"404","response":{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"Resource does not exist"}}]}
        """)
    }
}
