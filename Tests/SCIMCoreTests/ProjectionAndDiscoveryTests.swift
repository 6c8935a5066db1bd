import Testing
import JSON
@testable import SCIMCore

private let base = "https://scim.example.com/scim/v2"

@Suite struct ProjectionTests {
    private func project(_ attributes: String?, _ excluded: String?, _ doc: JSONObject = storedUser, _ schema: ResourceSchema = userSchema) -> String {
        Projection(schema: schema, attributes: attributes, excludedAttributes: excluded).apply(to: doc).text
    }

    @Test func defaultDropsNeverAndKeepsTheRest() {
        var withPassword = patchUser
        withPassword["password"] = "secret"
        #expect(Projection(schema: userSchema).apply(to: withPassword) == patchUser)
    }

    @Test(arguments: [
        ("userName", nil, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"userName\":\"bjensen@example.com\"}"),
        ("name.givenName,EMAILS.value", nil, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"name\":{\"givenName\":\"Barbara\"},\"emails\":[{\"value\":\"bjensen@example.com\"},{\"value\":\"babs@jensen.org\"}]}"),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", nil, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"department\":\"Tour Operations\"}}"),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", nil, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\",\"manager\":{\"value\":\"26118915-6090-4610-87e4-49d8ca9f808d\"}}}"),
        ("meta.created,nosuchthing", nil, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"meta\":{\"created\":\"2010-01-23T04:56:22Z\"}}"),
        // Entra: a value filter inside `attributes` selects the attribute [docs/idp-behaviour.md#microsoft-reference-tests].
        ("emails[type eq \"work\"]", nil, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"emails\":[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":true},{\"value\":\"babs@jensen.org\",\"type\":\"home\"}]}"),
        (nil, "emails,name.familyName,meta,id,addresses,phoneNumbers,roles,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"externalId\":\"bjensen\",\"userName\":\"bjensen@example.com\",\"name\":{\"formatted\":\"Ms. Barbara J Jensen III\",\"givenName\":\"Barbara\"},\"displayName\":\"Babs Jensen\",\"nickName\":\"Babs\",\"title\":\"Tour Guide\",\"userType\":\"Employee\",\"active\":true}"),
        (nil, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager,emails,addresses,phoneNumbers,roles,name,meta", "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"externalId\":\"bjensen\",\"userName\":\"bjensen@example.com\",\"displayName\":\"Babs Jensen\",\"nickName\":\"Babs\",\"title\":\"Tour Guide\",\"userType\":\"Employee\",\"active\":true,\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\"}}"),
    ] as [(String?, String?, String)])
    func attributesAndExcludedAttributes(attributes: String?, excluded: String?, expected: String) {
        #expect(project(attributes, excluded) == expected)
    }

    @Test func membersCanBeSkippedByStorage() {
        // Entra: GET /Groups?excludedAttributes=members must not carry members [docs/idp-behaviour.md#entra-overview].
        #expect(!Projection(schema: groupSchema, attributes: nil, excludedAttributes: "members").includes("members"))
        #expect(Projection(schema: groupSchema).includes("members"))
        #expect(!Projection(schema: groupSchema, attributes: "displayName", excludedAttributes: nil).includes("members"))
        #expect(Projection(schema: groupSchema, attributes: "members.value", excludedAttributes: nil).includes("members"))
        #expect(Projection(schema: groupSchema, attributes: "displayName", excludedAttributes: nil).includes("id"))
        var g = storedGroup
        g["members"] = json("[{\"value\":\"u1\",\"display\":\"Babs\"}]")
        #expect(Projection(schema: groupSchema, attributes: nil, excludedAttributes: "members").apply(to: g)["members"] == nil)
        #expect(Projection(schema: groupSchema, attributes: "members.value", excludedAttributes: nil).apply(to: g).text
                == "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"id\":\"e9e30dba-f08f-4109-8486-d5c6a331660a\",\"members\":[{\"value\":\"u1\"}]}")
    }

    @Test func returnedRequestOnlyWhenAsked() throws {
        let ext = Schema(id: "urn:example:scim:acme:2.0:User", name: "Acme", attributes: [AttributeDefinition("secretLevel", returned: .request)])
        let s = try #require(registry.adding(extension: ext, to: "User").resourceSchema("User"))
        let doc = object("{\"schemas\":[],\"id\":\"1\",\"userName\":\"a\",\"urn:example:scim:acme:2.0:User\":{\"secretLevel\":\"3\"}}")
        #expect(Projection(schema: s).apply(to: doc).text == "{\"schemas\":[],\"id\":\"1\",\"userName\":\"a\"}")
        #expect(Projection(schema: s, attributes: "secretLevel", excludedAttributes: nil).apply(to: doc).text
                == "{\"schemas\":[],\"id\":\"1\",\"urn:example:scim:acme:2.0:User\":{\"secretLevel\":\"3\"}}")
    }
}

@Suite struct EnvelopeAndDiscoveryTests {
    @Test func errorEnvelopeHasStatusAsString() {
        #expect(SCIMError.uniqueness("userName already exists").json.description
                == "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],\"status\":\"409\",\"scimType\":\"uniqueness\",\"detail\":\"userName already exists\"}")
        #expect(SCIMError.notFound("User 0101 not found").json.description
                == "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],\"status\":\"404\",\"detail\":\"User 0101 not found\"}")
        // The description (for logs) carries no detail.
        #expect(SCIMError.invalidFilter("userName eq \"secret@example.com\"").description == "SCIMError(400 invalidFilter)")
        #expect(SCIMError.malformedJSON(JSONError(.unexpectedEnd, at: 12)).detail == "request body is not valid JSON: unexpected end of input at byte 12")
    }

    @Test func listResponseEnvelope() {
        #expect(ListResponse(totalResults: 0, startIndex: 1, resources: []).json.description
                == "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":0,\"startIndex\":1,\"itemsPerPage\":0,\"Resources\":[]}")
        #expect(ListResponse(totalResults: nil, startIndex: nil, resources: [["id": "1"]], nextCursor: "VZUTiy").json.description
                == "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"itemsPerPage\":1,\"nextCursor\":\"VZUTiy\",\"Resources\":[{\"id\":\"1\"}]}")
    }

    @Test func etags() {
        #expect(ETag.weak(version: "42") == "W/\"42\"")
        #expect(ETag.version(fromTag: "W/\"42\"") == "42")
        #expect(ETag.version(fromTag: "\"42\"") == "42")
        #expect(ETag.version(fromTag: "42") == nil)
        #expect(ETag.ifMatch("W/\"41\", W/\"42\"", currentVersion: "42"))
        #expect(ETag.ifMatch("*", currentVersion: "1"))
        #expect(!ETag.ifMatch("W/\"41\"", currentVersion: "42"))
    }

    @Test func serviceProviderConfigAdvertisesRealCapabilities() {
        #expect(ServiceProviderConfiguration().json(baseURL: base).description == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],"patch":{"supported":true},"bulk":{"supported":true,"maxOperations":1000,"maxPayloadSize":1048576},"filter":{"supported":true,"maxResults":1000},"changePassword":{"supported":false},"sort":{"supported":true},"etag":{"supported":true},"pagination":{"cursor":true,"index":true,"defaultPaginationMethod":"index","defaultPageSize":100,"maxPageSize":1000,"cursorTimeout":3600},"authenticationSchemes":[{"type":"oauthbearertoken","name":"OAuth Bearer Token","description":"Authentication scheme using the OAuth Bearer Token Standard","specUri":"https://www.rfc-editor.org/info/rfc6750","primary":true}],"meta":{"resourceType":"ServiceProviderConfig","location":"https://scim.example.com/scim/v2/ServiceProviderConfig"}}
        """)
    }

    @Test func resourceTypesAndSchemasComeFromTheDefinitions() throws {
        let rts = registry.resourceTypesListResponse(baseURL: base + "/")
        #expect(rts.totalResults == 2)
        #expect(rts.resources[0].description == """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],"id":"User","name":"User","endpoint":"/Users","description":"User Account","schema":"urn:ietf:params:scim:schemas:core:2.0:User","schemaExtensions":[{"schema":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","required":false}],"meta":{"resourceType":"ResourceType","location":"https://scim.example.com/scim/v2/ResourceTypes/User"}}
        """)
        let schemas = registry.schemasListResponse(baseURL: base)
        #expect(schemas.totalResults == 3)
        #expect(schemas.resources.map { $0["id"]?.string } == [StandardSchemas.userURN, StandardSchemas.enterpriseUserURN, StandardSchemas.groupURN])
        let user = schemas.resources[0]
        #expect(user["meta"]?.description == "{\"resourceType\":\"Schema\",\"location\":\"https://scim.example.com/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User\"}")
        #expect(user["attributes"]?[0]?.description == """
        {"name":"userName","type":"string","multiValued":false,"description":"Unique identifier for the User, typically used by the user to directly authenticate to the service provider.","required":true,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"server"}
        """)
        let password = try #require(user["attributes"]?.array?.first { $0["name"] == "password" })
        #expect(password["mutability"] == "writeOnly")
        #expect(password["returned"] == "never")
        let emails = try #require(user["attributes"]?.array?.first { $0["name"] == "emails" })
        #expect(emails["subAttributes"]?.array?.map { $0["name"]?.string ?? "" } == ["value", "display", "type", "primary"])
        #expect(emails["subAttributes"]?[2]?["canonicalValues"] == ["work", "home", "other"])
        let members = try #require(schemas.resources[2]["attributes"]?.array?.first { $0["name"] == "members" })
        #expect(members["subAttributes"]?[1]?.description == """
        {"name":"$ref","type":"reference","multiValued":false,"description":"The URI corresponding to a SCIM resource that is a member of this Group.","required":false,"caseExact":true,"referenceTypes":["User","Group"],"mutability":"immutable","returned":"default","uniqueness":"none"}
        """)
    }

    @Test func singleDiscoveryResources() throws {
        #expect(try registry.schemaRepresentation(id: StandardSchemas.groupURN, baseURL: base)["name"] == "Group")
        #expect(try registry.resourceTypeRepresentation(id: "group", baseURL: base)["endpoint"] == "/Groups")
        #expect(scimError { try registry.schemaRepresentation(id: "urn:nope", baseURL: base) } == .notFound("schema urn:nope not found"))
        #expect(scimError { try registry.resourceTypeRepresentation(id: "Device", baseURL: base) } == .notFound("resource type Device not found"))
    }
}
