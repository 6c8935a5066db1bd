/// One request as the live connection check shows it (from the tenant's request log in its home region).
struct ObservedRequest: Sendable, Equatable {
    var at: String
    var method: String
    var route: String
    var status: Int
    /// Why the gateway answered as it did when it refused (`auth-revoked`, `integration-deactivated`, …).
    var outcome: String?
    var scimType: String?
    var detail: String?
    var idp: String?
    /// The userName / displayName the request was about, when there is one.
    var subject: String?
}

/// Plain-language explanations of what went wrong, for a customer's IT admin who sees only their IdP's error.
enum RequestExplanation {
    enum Tone: String, Sendable { case ok, warn, bad }

    static func explain(_ r: ObservedRequest, scimBaseURL: String) -> (Tone, String) {
        switch r.outcome {
        case "auth-revoked"?:
            return (.bad, "The token your IdP used was revoked. Generate a new token on this page and paste it into your IdP.")
        case "auth-expired"?, "auth-access-token-expired"?:
            return (.bad, "The token your IdP used has expired. Generate a new token on this page and paste it into your IdP.")
        case "auth-mismatch"?:
            return (.bad, "The token's secret part is wrong: it was probably pasted incompletely. Copy the whole token again.")
        case "integration-deactivated"?:
            return (.bad, "The integration is switched off, so nothing was changed. Reactivate it on this page when you are ready.")
        case "rate-limited"?, "source-throttled"?:
            return (.warn, "Your IdP sent requests faster than allowed and was asked to slow down; it retries by itself.")
        case "misdirected"?:
            return (.bad, "Your IdP is calling another region's address. Use this SCIM URL instead: \(scimBaseURL)")
        case let o? where o.hasPrefix("upstream-") || o == "circuit-open":
            return (.warn, "A temporary problem on our side; your IdP retries by itself. If it persists, contact your provider.")
        default: break
        }
        switch r.status {
        case 200..<300:
            return (.ok, "OK")
        case 401:
            return (.bad, "The request had no valid token. Check that the whole token is pasted in your IdP.")
        case 404:
            if r.method == "GET" {
                return (.ok, "A lookup of something that does not exist (yet): normal during a connection test or before the first sync.")
            }
            return (.warn, "Your IdP referred to a user or group that is not here (it may have been deleted). It usually recreates it.")
        case 409:
            return (.warn, "A user or group with the same name already exists here. Your IdP should look it up and link to it; if it keeps failing, check for duplicate names in your directory.")
        case 400:
            let what = r.detail.map { ": \($0)" } ?? ""
            switch r.scimType {
            case "invalidFilter"?: return (.bad, "Your IdP searched with a filter we cannot read\(what). Check the matching attribute in your IdP's settings.")
            case "invalidValue"?, "invalidSyntax"?, "noTarget"?, "invalidPath"?:
                return (.bad, "Your IdP sent a value we could not accept\(what). Check the attribute mappings in your IdP.")
            case "mutability"?: return (.bad, "Your IdP tried to change something that cannot be changed\(what).")
            default: return (.bad, "Your IdP sent a request we could not accept\(what).")
            }
        case 413: return (.bad, "Your IdP sent a request that is too large.")
        case 421: return (.bad, "Your IdP is calling another region's address. Use this SCIM URL instead: \(scimBaseURL)")
        case 429: return (.warn, "Your IdP sent requests faster than allowed and was asked to slow down; it retries by itself.")
        case 500...: return (.warn, "A temporary problem on our side; your IdP retries by itself. If it persists, contact your provider.")
        default: return (.warn, r.detail ?? "HTTP \(r.status)")
        }
    }
}
