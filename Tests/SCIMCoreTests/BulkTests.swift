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

    @Test func parsesAndOrdersByReferences() throws {
        let r = try BulkRequest.parse(rfcBody, maxOperations: 1000)
        #expect(r.failOnErrors == 1)
        #expect(r.operations.map(\.method) == [.post, .post, .patch, .delete])
        #expect(r.operations.map(\.path) == ["/Groups", "/Users", "/Groups/bulkId:ytrewq", "/Users/b7c14771-226c-4d05-8860-134711653041"])
        #expect(r.operations[3].version == "W/\"0ee8add0a938e1a\"")
        #expect(BulkRequest.references(of: r.operations[0]) == ["qwerty"])
        #expect(try r.executionOrder() == [1, 0, 2, 3])
        let data = BulkRequest.substitute(r.operations[0].data!, ids: ["qwerty": "92b725cd-9465-4e7d-8c16-01f8e146b87a"])
        #expect(data["members"]?.description == "[{\"type\":\"User\",\"value\":\"92b725cd-9465-4e7d-8c16-01f8e146b87a\"}]")
    }

    @Test func circularAndUnknownReferencesConflict() throws {
        let circular = try BulkRequest.parse(json("""
        {"Operations":[{"method":"POST","path":"/Groups","bulkId":"a","data":{"displayName":"A","members":[{"value":"bulkId:b"}]}},
                       {"method":"POST","path":"/Groups","bulkId":"b","data":{"displayName":"B","members":[{"value":"bulkId:a"}]}}]}
        """), maxOperations: 10)
        #expect(scimError { try circular.executionOrder() } == SCIMError(status: 409, scimType: .invalidValue, detail: "circular bulkId references"))
        let unknown = try BulkRequest.parse(json("{\"Operations\":[{\"method\":\"DELETE\",\"path\":\"/Users/bulkId:zz\"}]}"), maxOperations: 10)
        #expect(scimError { try unknown.executionOrder() } == SCIMError(status: 409, scimType: .invalidValue, detail: "bulkId 'zz' is not defined in this request"))
    }

    @Test(arguments: [
        ("{\"Operations\":[]}", SCIMError.invalidSyntax("the BulkRequest needs a non-empty 'Operations' array")),
        ("{\"Operations\":[{\"method\":\"GET\",\"path\":\"/Users\"}]}", .invalidSyntax("bulk operation 0 needs a method: POST, PUT, PATCH or DELETE")),
        ("{\"Operations\":[{\"method\":\"POST\",\"path\":\"/Users\",\"data\":{}}]}", .invalidSyntax("bulk operation 0: POST needs a 'bulkId'")),
        ("{\"Operations\":[{\"method\":\"PUT\",\"path\":\"/Users\",\"data\":{}}]}", .invalidPath("bulk operation 0: PUT needs a resource id in the path")),
        ("{\"Operations\":[{\"method\":\"PATCH\",\"path\":\"/Users/1\"}]}", .invalidSyntax("bulk operation 0: PATCH needs 'data'")),
        ("{\"Operations\":[{\"method\":\"delete\",\"path\":\"/Users/1/x\"}]}", .invalidPath("bulk operation 0: path must be /{Resource} or /{Resource}/{id}")),
        ("{\"failOnErrors\":0,\"Operations\":[{\"method\":\"DELETE\",\"path\":\"/Users/1\"}]}", .invalidValue("'failOnErrors' must be a positive integer")),
        ("{\"Operations\":[{\"method\":\"DELETE\",\"path\":\"/Users/1\"},{\"method\":\"DELETE\",\"path\":\"/Users/2\"},{\"method\":\"DELETE\",\"path\":\"/Users/3\"}]}",
         SCIMError(status: 413, detail: "the bulk request has more than 2 operations")),
    ])
    func errors(body: String, expected: SCIMError) {
        #expect(scimError { try BulkRequest.parse(json(body), maxOperations: 2) } == expected)
    }

    @Test func responseEnvelope() {
        let r = BulkResponse(operations: [
            BulkOperationResult(method: .post, bulkId: "qwerty", version: "W/\"4weymrEsh5O6cAEK\"",
                                location: "https://example.com/v2/Users/92b725cd-9465-4e7d-8c16-01f8e146b87a", status: 201),
            BulkOperationResult(method: .delete, status: 404, error: .notFound("Resource does not exist")),
        ])
        #expect(r.json.description == """
        {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkResponse"],"Operations":[{"location":"https://example.com/v2/Users/92b725cd-9465-4e7d-8c16-01f8e146b87a","method":"POST","bulkId":"qwerty","version":"W/\\"4weymrEsh5O6cAEK\\"","status":"201"},{"method":"DELETE","status":"404","response":{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"Resource does not exist"}}]}
        """)
    }
}
