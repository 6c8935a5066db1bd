import HTTPCore
import JSON
import SCIMCore
import Testing

/// SCIM errors render as the RFC 7644 §3.12 envelope in the negotiated media type, with their headers.
@Suite struct SCIMErrorRenderingTests {
    @Test func envelopeMediaTypeAndHeaders() throws {
        let error = SCIMError(status: 401, detail: "invalid token", challenge: "Bearer realm=\"scim\"")
        let scim = HTTPResponse(error: error, accept: nil)
        #expect(scim.headers["Content-Type"] == "application/scim+json; charset=utf-8")
        #expect(scim.headers["WWW-Authenticate"] == "Bearer realm=\"scim\"")
        #expect(scim.headers["Retry-After"] == nil)
        let json = try JSONDecoder.decode(scim.body)
        #expect(json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"])
        #expect(json["status"] == "401")
        #expect(json["detail"] == "invalid token")
        // OneLogin asks for plain JSON and gets it.
        #expect(HTTPResponse(error: error, accept: "application/json").headers["Content-Type"] == "application/json; charset=utf-8")
        let unavailable = HTTPResponse(error: SCIMError(status: 503, detail: "later", retryAfterSeconds: 5))
        #expect(unavailable.headers["Retry-After"] == "5")
        let notAllowed = HTTPResponse(error: SCIMError(status: 405, detail: "no").allowing("GET, PUT"))
        #expect(notAllowed.headers["Allow"] == "GET, PUT")
    }
}
