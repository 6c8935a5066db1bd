import Crypto
package import HTTPCore
package import RegionLink
package import SCIMCore
import Telemetry

/// Establishes who a request is for: the gateway's link signature, or (development mode only) a bearer tenant id.
package struct Authenticator: Sendable {
    /// Verifies the gateway's signatures; nil when no keyring is configured (then only development mode works).
    package let verifier: LinkVerifier?
    /// `--dev-unsigned-tenants`: accept `Authorization: Bearer <tenant-uuid>` without a signature.
    package let developmentMode: Bool
    /// Seconds since the epoch (the signature's replay window).
    let clock: @Sendable () -> Int

    /// An authenticator; `clock` (seconds since the epoch) is for tests.
    package init(verifier: LinkVerifier?, developmentMode: Bool, clock: (@Sendable () -> Int)? = nil) {
        self.verifier = verifier
        self.developmentMode = developmentMode
        self.clock = clock ?? { Int(Timestamp.nowEpochMillis() / 1000) }
    }

    /// The request's scope, or a 401 SCIM error (nothing is read or written for a refused request).
    package func authenticate(_ request: HTTPRequest) -> Result<RequestScope, SCIMError> {
        let headers = request.headers
        let signed = headers.contains(LinkHeader.signature) || headers.contains(LinkHeader.keyID)
        if signed || !developmentMode {
            guard let verifier else { return .failure(Self.unauthorized(LinkRejection.unsigned.description)) }
            switch verifier.verify(request, nowSeconds: clock()) {
            case .failure(let rejection):
                return .failure(Self.unauthorized(rejection.description))
            case .success(let link):
                guard let tenant = UUIDText.canonical(link.tenant) else {
                    return .failure(Self.unauthorized("the tenant header is not a UUID"))
                }
                let base = link.baseURL.isEmpty ? Self.hostBaseURL(request) : link.baseURL
                return .success(RequestScope(tenant: tenant, baseURL: base,
                                             requestID: link.requestID.isEmpty ? Self.newRequestID() : link.requestID))
            }
        }
        // Development mode, unsigned: the bearer token is the tenant id.
        guard let authorization = headers["Authorization"], authorization.count > 7,
              asciiCaseInsensitiveEquals(authorization.prefix(7), "Bearer "),
              let tenant = UUIDText.canonical(trimOWS(authorization.dropFirst(7))) else {
            return .failure(Self.unauthorized("development mode expects 'Authorization: Bearer <tenant uuid>'"))
        }
        let requestID = headers[LinkHeader.requestID].flatMap { Self.isPrintableToken($0) ? $0 : nil } ?? Self.newRequestID()
        return .success(RequestScope(tenant: tenant, baseURL: Self.hostBaseURL(request), requestID: requestID))
    }

    static func unauthorized(_ detail: String) -> SCIMError { SCIMError(status: 401, detail: detail) }

    /// `http://<Host>/scim/v2` (development mode and unsigned fallbacks).
    static func hostBaseURL(_ request: HTTPRequest) -> String {
        let host = request.headers["Host"].flatMap { isPrintableToken($0) ? $0 : nil } ?? "localhost"
        return "http://" + host + "/scim/v2"
    }

    /// Short printable ASCII without spaces or quotes (safe to echo in headers and logs).
    package static func isPrintableToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 128 && s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") }
    }

    static func newRequestID() -> String { "rg-" + Base62.random(16) }
}
