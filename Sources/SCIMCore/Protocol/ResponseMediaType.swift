/// The media type of a SCIM answer (RFC 7644 §3.1), negotiated on the request's Accept header (RFC 9110 §12.5.1).
///
/// `application/scim+json` unless the client prefers `application/json`: OneLogin wants plain JSON back [docs/idp-behaviour.md#onelogin-overview], Entra's
/// validator wants scim+json [docs/idp-behaviour.md#entra-overview], and most clients send one of them, `*/*`, or nothing. q-values count, so
/// `application/scim+json;q=0, application/json` gets plain JSON. At equal q the type the client named beats one it
/// only reached through a wildcard (`application/json, */*` gets plain JSON); otherwise a tie, or an Accept naming
/// neither, gets scim+json (we never answer 406: an IdP that cannot read the body still learns the status).
public enum ResponseMediaType: Sendable, Equatable {
    case scimJSON
    case json

    /// The Content-Type header value.
    public var contentType: String {
        switch self {
        case .scimJSON: "application/scim+json; charset=utf-8"
        case .json: "application/json; charset=utf-8"
        }
    }

    /// The type to answer with for this Accept header value (nil: no header).
    public static func negotiate(accept: String?) -> ResponseMediaType {
        guard let accept else { return .scimJSON }
        let scim = quality(of: "application/scim+json", in: accept)
        let json = quality(of: "application/json", in: accept)
        let prefersJSON = json.q > scim.q || (json.q == scim.q && json.specificity > scim.specificity)
        return json.q > 0 && prefersJSON ? .json : .scimJSON
    }

    /// The q-value the Accept header gives `type` (`application/x`) and how specifically: the most specific matching
    /// range wins (`type/subtype` 3, `type/*` 2, `*/*` 1); (0, 0) when nothing matches.
    static func quality(of type: String, in accept: String) -> (specificity: Int, q: Double) {
        var best = (specificity: 0, q: 0.0)
        for element in accept.split(separator: ",") {
            let parts = element.split(separator: ";")
            guard let range = parts.first.map({ $0.trimmingSpaces().lowercased() }), !range.isEmpty else { continue }
            let specificity: Int
            if range == type { specificity = 3 }
            else if range == "application/*" { specificity = 2 }
            else if range == "*/*" { specificity = 1 }
            else { continue }
            var q = 1.0
            for parameter in parts.dropFirst() {
                let p = parameter.trimmingSpaces()
                if p.count > 2, p.prefix(2).lowercased() == "q=", let value = Double(p.dropFirst(2)), value >= 0, value <= 1 { q = value }
            }
            if specificity > best.specificity { best = (specificity, q) }
        }
        return best
    }
}
