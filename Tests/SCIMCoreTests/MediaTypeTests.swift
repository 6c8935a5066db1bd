import Testing
@testable import SCIMCore

/// Response media type negotiation on Accept (RFC 9110 §12.5.1; [docs/idp-behaviour.md#all-media-types]).
@Suite struct MediaTypeTests {
    @Test(arguments: [
        (nil, ResponseMediaType.scimJSON),                                            // no Accept
        ("application/scim+json", .scimJSON),                                         // Okta [docs/idp-behaviour.md#okta-overview], Entra [docs/idp-behaviour.md#entra-overview]
        ("application/json", .json),                                                  // OneLogin [docs/idp-behaviour.md#onelogin-media-types]
        ("Application/JSON; charset=utf-8", .json),
        ("application/json, application/scim+json", .scimJSON),                       // a tie: ours
        ("*/*", .scimJSON),
        ("application/json, text/plain, */*", .json),                                 // axios-style default
        ("application/json, */*;q=0.1", .json),
        ("application/scim+json;q=0, application/json", .json),                       // scim+json refused
        ("application/scim+json;q=0.5, application/json;q=0.9", .json),
        ("application/scim+json;q=0.9, application/json;q=0.5", .scimJSON),
        ("application/*", .scimJSON),
        ("application/json;q=0", .scimJSON),                                          // neither acceptable: no 406
        ("text/html", .scimJSON),
        ("application/json;q=abc", .json),                                            // a malformed q counts as 1
        ("", .scimJSON),
    ] as [(String?, ResponseMediaType)])
    func negotiate(accept: String?, expected: ResponseMediaType) {
        #expect(ResponseMediaType.negotiate(accept: accept) == expected)
    }

    @Test func contentTypes() {
        #expect(ResponseMediaType.scimJSON.contentType == "application/scim+json; charset=utf-8")
        #expect(ResponseMediaType.json.contentType == "application/json; charset=utf-8")
    }
}
