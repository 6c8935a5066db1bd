package import JSON
package import SCIMCore

/// One request as the request path hands it to the request log: what was at hand when the answer was ready, taken
/// without copying (the body arrays and the answer's JSON are shared, not duplicated) and without any parsing,
/// redaction or encoding, which the background writer does (`RequestLogRow`).
package struct RequestLogEntry: Sendable {
    /// Who recorded the request: the region that answered it, or the gateway that refused it itself.
    package enum Source: String, Sendable, Hashable {
        case region, gateway
    }

    package var tenant: String
    /// When the request arrived (milliseconds since the epoch).
    package var atMillis: Int64
    package var requestID: String
    package var source: Source
    package var method: String
    /// The route template (`/scim/v2/Users/:id`).
    package var route: String
    /// `User` or `Group` when the route names a resource type.
    package var resourceType: String?
    /// The resource the request was about: the path's id, or the id a create returned.
    package var resourceID: String?
    /// The raw query string (percent-encoded), if any.
    package var query: String?
    package var userAgent: String?
    package var status: Int
    /// The SCIM error answered, if any.
    package var error: SCIMError?
    /// Why the gateway answered itself (`integration-deactivated`, `rate-limited`, `misdirected`, …).
    package var outcome: String?
    /// The IdP quirks the request needed.
    package var quirks: QuirkSet
    package var durationMillis: Double
    /// The request body as received (empty when there was none, or when the gateway left a large one behind).
    package var requestBody: [UInt8]
    /// The request body's size as received.
    package var requestBytes: Int
    /// The answer's document when the log keeps it: a write's resource or a Bulk answer (never a successful read's).
    package var response: JSONValue?
    /// The answer body's size.
    package var responseBytes: Int
    /// `totalResults` of a list answer.
    package var results: Int?
    /// userName, externalId and displayName of the resource the answer carried (e.g. a GET by id).
    package var answered: Identifiers

    /// The names a record is found by.
    package struct Identifiers: Sendable, Equatable {
        package var userName: String?
        package var externalId: String?
        package var displayName: String?

        package init(userName: String? = nil, externalId: String? = nil, displayName: String? = nil) {
            self.userName = userName
            self.externalId = externalId
            self.displayName = displayName
        }

        /// The names found in a resource document (top-level `userName`, `externalId`, `displayName`).
        package init(resource: JSONObject) {
            userName = resource["userName"]?.string
            externalId = resource["externalId"]?.string
            displayName = resource["displayName"]?.string
        }

        var isEmpty: Bool { userName == nil && externalId == nil && displayName == nil }
    }

    package init(tenant: String, atMillis: Int64, requestID: String, source: Source, method: String, route: String,
                 resourceType: String? = nil, resourceID: String? = nil, query: String? = nil, userAgent: String? = nil,
                 status: Int, error: SCIMError? = nil, outcome: String? = nil, quirks: QuirkSet = QuirkSet(),
                 durationMillis: Double, requestBody: [UInt8] = [], requestBytes: Int? = nil, response: JSONValue? = nil,
                 responseBytes: Int = 0, results: Int? = nil, answered: Identifiers = Identifiers()) {
        self.tenant = tenant
        self.atMillis = atMillis
        self.requestID = requestID
        self.source = source
        self.method = method
        self.route = route
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.query = query
        self.userAgent = userAgent
        self.status = status
        self.error = error
        self.outcome = outcome
        self.quirks = quirks
        self.durationMillis = durationMillis
        self.requestBody = requestBody
        self.requestBytes = requestBytes ?? requestBody.count
        self.response = response
        self.responseBytes = responseBytes
        self.results = results
        self.answered = answered
    }

    /// What the entry holds in memory, roughly, for the buffer's byte bound (the bodies dominate).
    var footprint: Int { 512 + requestBody.count + (response == nil ? 0 : responseBytes) }
}
