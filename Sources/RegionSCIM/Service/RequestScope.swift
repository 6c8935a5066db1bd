import JSON
import SCIMCore
import Postgres

/// Who is asking: what the gateway's signed headers (or development mode) established.
package struct RequestScope: Sendable, Equatable {
    /// The tenant id (canonical UUID text).
    package var tenant: String
    /// The public SCIM base URL the IdP used, without a trailing slash (e.g. `https://eu2-api.example.com/scim/v2`).
    package var baseURL: String
    /// The request id for logs and the `X-Request-Id` answer header.
    package var requestID: String
    /// Where the service notes the IdP quirks this request needed (for the request log); nil: nobody asks.
    package var quirks: RequestQuirks?

    /// A scope; a trailing slash on the base URL is dropped.
    package init(tenant: String, baseURL: String, requestID: String, quirks: RequestQuirks? = nil) {
        self.tenant = tenant
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.requestID = requestID
        self.quirks = quirks
    }
}
