import HTTPCore
import JSON
import TestSupport
import Testing

extension IdPReplay {
    /// Content negotiation through both hops, per IdP: request bodies in `application/json` or `application/scim+json`
    /// are accepted; answers (resources, lists, region errors and the gateway's own 401) are `application/scim+json`
    /// unless the client prefers `application/json` ([docs/idp-behaviour.md#all-media-types]).
    @Suite struct ContentNegotiation {
        struct Client: CustomTestStringConvertible, Sendable {
            var idp: String
            var accept: String?
            var bodyType: String
            var expected: String
            var testDescription: String { idp }
        }

        static let clients: [Client] = [
            Client(idp: "Okta [docs/idp-behaviour.md#okta-overview]", accept: "application/scim+json", bodyType: "application/scim+json; charset=utf-8", expected: MediaType.scim),
            Client(idp: "Entra [docs/idp-behaviour.md#entra-overview]", accept: "application/scim+json", bodyType: "application/scim+json", expected: MediaType.scim),
            Client(idp: "Google [docs/idp-behaviour.md#google-headers-and-media-types], Accept [docs/idp-behaviour.md#how-to-read-this-file]", accept: "application/json", bodyType: "application/json", expected: MediaType.json),
            Client(idp: "OneLogin [docs/idp-behaviour.md#onelogin-overview], Accept [docs/idp-behaviour.md#how-to-read-this-file]", accept: "application/json", bodyType: "application/json", expected: MediaType.json),
            Client(idp: "JumpCloud, headers [docs/idp-behaviour.md#how-to-read-this-file]", accept: nil, bodyType: "application/json", expected: MediaType.scim),
            Client(idp: "Ping, headers [docs/idp-behaviour.md#how-to-read-this-file]", accept: "application/scim+json, application/json", bodyType: "application/json;charset=UTF-8",
                   expected: MediaType.scim),
            Client(idp: "Rippling, headers [docs/idp-behaviour.md#how-to-read-this-file]", accept: "*/*", bodyType: "application/scim+json", expected: MediaType.scim),
            Client(idp: "a client refusing scim+json", accept: "application/scim+json;q=0, application/json", bodyType: "application/json",
                   expected: MediaType.json),
            Client(idp: "a client naming only JSON", accept: "application/json, */*;q=0.8", bodyType: "application/json",
                   expected: MediaType.json),
        ]

        @Test(arguments: clients) func answersInTheTypeTheClientAccepts(_ c: Client) throws {
            let client = try IdPClient.provision("negotiation", region: .eu2, headers: c.accept.map { [("Accept", $0)] } ?? [],
                                                 bodyType: c.bodyType, expectedType: c.expected)
            let created = try client.create("/Users", #"{"userName":"negotiated@example.com","active":true}"#)
            client.expectResource(try client.send(.patch, "/Users/\(created.id)", patchOps(#"{"op":"replace","path":"title","value":"x"}"#)))
            client.expectList(try client.send(.get, "/Users?filter=userName%20eq%20%22negotiated%40example.com%22"), total: 1)
            client.expectError(try client.send(.post, "/Users", #"{"userName":"negotiated@example.com"}"#), 409, scimType: "uniqueness")
            client.expectError(try client.send(.get, "/Users/\(randomUUID())"), 404)
            client.expectError(try client.send(.get, "/Users", authorization: .header("Bearer not-a-token")), 401)
            let spc = try client.send(.get, "/ServiceProviderConfig")
            #expect(spc.status == 200 && spc.contentType == c.expected)
            // A body in another media type is refused with 415, in the negotiated type.
            var plain = client
            plain.bodyType = "text/plain"
            client.expectError(try plain.send(.post, "/Users", #"{"userName":"plain@example.com"}"#), 415)
        }
    }
}
