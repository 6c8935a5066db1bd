import Crypto
import HTTPCore
import Testing
@testable import GatewayApp

/// The token endpoint's checks that need no database: credential formats and the RFC 6749 request rules.
@Suite struct OAuthRequestTests {
    static func request(_ body: String, contentType: String? = "application/x-www-form-urlencoded",
                        authorization: String? = nil, target: String = "/oauth/token") -> HTTPRequest {
        var r = HTTPRequest(method: .post, target: target, body: Array(body.utf8))
        if let contentType { r.headers.add("Content-Type", contentType) }
        if let authorization { r.headers.add("Authorization", authorization) }
        return r
    }

    static func basic(_ id: String, _ secret: String) -> String {
        "Basic " + Base64.encode(Array((PercentEncoding.encode(id) + ":" + PercentEncoding.encode(secret)).utf8))
    }

    @Test func clientCredentialsParseBackAndJunkDoesNot() {
        for _ in 0..<200 {
            let c = OAuthClientCredential.generate()
            #expect(c.clientID.hasPrefix("scimcli_") && c.clientID.utf8.count == 24)
            #expect(c.clientSecret.hasPrefix("scimsec_") && c.clientSecret.utf8.count == 8 + 32 + 6)
            #expect(OAuthClientCredential.parse(clientID: c.clientID, clientSecret: c.clientSecret) == c)
            #expect(c.withNewSecret().clientID == c.clientID && c.withNewSecret().secret != c.secret)
        }
        let c = OAuthClientCredential.generate()
        var typo = Array(c.clientSecret.utf8)
        typo[12] = typo[12] == 0x61 ? 0x62 : 0x61
        #expect(OAuthClientCredential.parse(clientID: c.clientID, clientSecret: String(decoding: typo, as: UTF8.self)) == nil)
        #expect(OAuthClientCredential.parse(clientID: c.clientID, clientSecret: String(c.clientSecret.dropLast())) == nil)
        #expect(OAuthClientCredential.parse(clientID: "scimcli_short", clientSecret: c.clientSecret) == nil)
        #expect(OAuthClientCredential.parse(clientID: c.clientID, clientSecret: "") == nil)
        // The hash binds the secret to its client: the same secret under another id does not match.
        let key = HMACKey(SecureRandom.bytes(32))
        let other = OAuthClientCredential(clientID: OAuthClientCredential.generate().clientID, secret: c.secret)
        #expect(c.hash(pepper: key) != other.hash(pepper: key))
    }

    @Test func basicAndPostCredentialsAreRead() throws {
        let c = OAuthClientCredential.generate()
        let viaBasic = try TokenRequest.parse(Self.request("grant_type=client_credentials",
                                                           authorization: Self.basic(c.clientID, c.clientSecret))).get()
        #expect(viaBasic == TokenRequest(clientID: c.clientID, clientSecret: c.clientSecret, method: .basic, scope: nil))
        let viaPost = try TokenRequest.parse(Self.request(
            "grant_type=client_credentials&client_id=\(c.clientID)&client_secret=\(c.clientSecret)&scope=scim")).get()
        #expect(viaPost == TokenRequest(clientID: c.clientID, clientSecret: c.clientSecret, method: .post, scope: "scim"))
        // A charset parameter and a client_id repeated in the body next to Basic (some libraries do) are fine.
        let both = try TokenRequest.parse(Self.request("grant_type=client_credentials&client_id=\(c.clientID)",
                                                       contentType: "application/x-www-form-urlencoded; charset=UTF-8",
                                                       authorization: Self.basic(c.clientID, c.clientSecret))).get()
        #expect(both.method == .basic)
        // RFC 6749 §2.3.1: Basic credentials are form-encoded first; a secret with ':' or '+' survives.
        #expect(TokenRequest.basicCredentials(Self.basic("a b", "x:y+z"))! == ("a b", "x:y+z"))
    }

    @Test func badRequestsGetTheirRFC6749Error() {
        let c = OAuthClientCredential.generate()
        let good = "client_id=\(c.clientID)&client_secret=\(c.clientSecret)"
        func code(_ r: HTTPRequest) -> (Int, String)? {
            if case .failure(let e) = TokenRequest.parse(r) { return (e.status, e.code) }
            return nil
        }
        #expect(code(Self.request("grant_type=password&" + good))! == (400, "unsupported_grant_type"))
        #expect(code(Self.request("grant_type=authorization_code&code=x&" + good))! == (400, "unsupported_grant_type"))
        #expect(code(Self.request(good))! == (400, "invalid_request"))
        #expect(code(Self.request("grant_type=&" + good))! == (400, "invalid_request"))
        #expect(code(Self.request("grant_type=client_credentials&grant_type=client_credentials&" + good))! == (400, "invalid_request"))
        #expect(code(Self.request("grant_type=client_credentials&" + good, contentType: "application/json"))! == (400, "invalid_request"))
        #expect(code(Self.request("grant_type=client_credentials&" + good, contentType: nil))! == (400, "invalid_request"))
        #expect(code(Self.request("{\"grant_type\":\"client_credentials\"}", contentType: "application/json"))! == (400, "invalid_request"))
        #expect(code(Self.request("grant_type=client_credentials&x=%FF%FE"))! == (400, "invalid_request"))
        #expect(code(Self.request(String(repeating: "a", count: 5000)))! == (400, "invalid_request"))
        #expect(code(Self.request("grant_type=client_credentials", target: "/oauth/token?client_secret=\(c.clientSecret)"))! == (400, "invalid_request"))
        // No credentials, a non-Basic Authorization header, undecodable Basic: 401 invalid_client.
        #expect(code(Self.request("grant_type=client_credentials"))! == (401, "invalid_client"))
        #expect(code(Self.request("grant_type=client_credentials&client_id=\(c.clientID)"))! == (401, "invalid_client"))
        #expect(code(Self.request("grant_type=client_credentials", authorization: "Bearer abc"))! == (401, "invalid_client"))
        #expect(code(Self.request("grant_type=client_credentials", authorization: "Basic !!!"))! == (401, "invalid_client"))
        #expect(code(Self.request("grant_type=client_credentials", authorization: "Basic " + Base64.encode(Array("nocolon".utf8))))! == (401, "invalid_client"))
        // Two authentication methods at once, or two different client ids.
        #expect(code(Self.request("grant_type=client_credentials&client_secret=\(c.clientSecret)",
                                  authorization: Self.basic(c.clientID, c.clientSecret)))! == (400, "invalid_request"))
        #expect(code(Self.request("grant_type=client_credentials&client_id=scimcli_0000000000000000",
                                  authorization: Self.basic(c.clientID, c.clientSecret)))! == (400, "invalid_request"))
    }

    @Test func oauthErrorsRenderAsRFC6749JSONWithNoStore() {
        let response = HTTPResponse(error: OAuthError.invalidClient())
        #expect(response.status.code == 401)
        #expect(response.headers["Cache-Control"] == "no-store")
        #expect(response.headers["WWW-Authenticate"]?.hasPrefix("Basic ") == true)
        #expect(response.bodyText == #"{"error":"invalid_client","error_description":"client authentication failed"}"#)
        let busy = HTTPResponse(error: OAuthError.unavailable(status: 429, "slow down", retryAfter: 3))
        #expect(busy.headers["Retry-After"] == "3")
    }

    @Test func accessTokensAreTheirOwnKind() {
        let t = TokenCredential.generate(.access)
        #expect(t.token.hasPrefix("scimat_"))
        #expect(TokenCredential.Kind.scim(t.token) == .access)
        #expect(TokenCredential.parse(t.token, kind: .scim(t.token)) == .success(t))
        #expect(TokenCredential.parse(t.token, kind: .tenant) == .failure(.malformed))
        let tenant = TokenCredential.generate(.tenant)
        #expect(TokenCredential.Kind.scim(tenant.token) == .tenant)
        // The stored hashes differ by kind: an access token's secret under the tenant prefix is not the same credential.
        let key = HMACKey(SecureRandom.bytes(32))
        #expect(t.hash(pepper: key) != TokenCredential(kind: .tenant, id: t.id, secret: t.secret).hash(pepper: key))
    }
}
