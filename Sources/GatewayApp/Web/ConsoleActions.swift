import HTTPCore
import JSON
import WebUI

/// The console's forms, each mapped onto its admin route. A secret the route returns (a token, a client secret, a
/// setup link) is shown on the answer page once; everything else redirects back to the tenant page.
struct ConsoleActions {
    let pages: ConsolePages
    let call: (HTTPMethod, String, JSONValue?) -> (Int, JSONValue?)

    func perform(path: Substring, form: QueryParameters) -> HTTPResponse {
        let parts = path.split(separator: "/").map(String.init)  // ["console", "tenants", id, ...]
        if parts == ["console", "tenants"] { return createTenant(form) }
        if parts == ["console", "keys", "pepper", "rotate"] {
            return outcome(call(.post, "/admin/v1/keys/pepper/rotate", nil), back: "/console/keys")
        }
        guard parts.count >= 4, parts[1] == "tenants" else { return notFound() }
        let tenant = parts[2]
        let back = "/console/tenants/" + PercentEncoding.encode(tenant)
        let api = "/admin/v1/tenants/" + PercentEncoding.encode(tenant)
        let rest = Array(parts.dropFirst(3))
        switch rest.count {
        case 1:
            switch rest[0] {
            case "integration":
                guard let action = form["action"], ["deactivate", "reactivate"].contains(action) else { return notFound() }
                return outcome(call(.post, api + "/integration/" + action, nil), back: back)
            case "update-token":
                return secret(call(.post, api + "/integration/token", nil), back: back, kind: .token)
            case "tokens":
                var body = JSONObject()
                if let l = form["label"], !l.isEmpty { body.set("label", .string(l)) }
                return secret(call(.post, api + "/tokens", .object(body)), back: back, kind: .token)
            case "setup-links":
                var body = JSONObject()
                if let l = form["label"], !l.isEmpty { body.set("label", .string(l)) }
                if let d = form["days"], let days = Int(d) { body.set("expiresInSeconds", .number(JSONNumber(days * 86_400))) }
                return secret(call(.post, api + "/setup-links", .object(body)), back: back, kind: .setupLink)
            case "oauth-clients":
                var body = JSONObject()
                if let l = form["label"], !l.isEmpty { body.set("label", .string(l)) }
                if let m = form["minutes"], let minutes = Int(m) { body.set("tokenLifetimeSeconds", .number(JSONNumber(minutes * 60))) }
                return secret(call(.post, api + "/oauth-clients", .object(body)), back: back, kind: .oauthClient)
            default: return notFound()
            }
        case 3:
            let (collection, item, verb) = (rest[0], PercentEncoding.encode(rest[1]), rest[2])
            switch (collection, verb) {
            case ("tokens", "rotate"):
                let hours = Int(form["grace"] ?? "") ?? 24
                return secret(call(.post, api + "/tokens/\(item)/rotate", ["graceSeconds": .number(JSONNumber(max(0, hours) * 3600))]),
                              back: back, kind: .rotation)
            case ("tokens", "revoke"):
                return outcome(call(.post, api + "/tokens/\(item)/revoke", ["reason": "revoked in the console"]), back: back)
            case ("setup-links", "revoke"):
                return outcome(call(.post, api + "/setup-links/\(item)/revoke", nil), back: back)
            case ("oauth-clients", "rotate"):
                let hours = Int(form["grace"] ?? "") ?? 24
                return secret(call(.post, api + "/oauth-clients/\(item)/rotate-secret",
                                   ["graceSeconds": .number(JSONNumber(max(0, hours) * 3600))]), back: back, kind: .oauthClient)
            case ("oauth-clients", "revoke"):
                return outcome(call(.post, api + "/oauth-clients/\(item)/revoke", ["reason": "revoked in the console"]), back: back)
            default: return notFound()
            }
        default: return notFound()
        }
    }

    private func createTenant(_ form: QueryParameters) -> HTTPResponse {
        var body: JSONObject = ["name": .string(form["name"] ?? ""), "region": .string(form["region"] ?? "")]
        if let p = form["deprovision"], !p.isEmpty { body.set("deprovisionPolicy", .string(p)) }
        let (status, json) = call(.post, "/admin/v1/tenants", .object(body))
        guard status == 201, let json else {
            return WebResponse.page(pages.newTenant(regions: [], error: json?["message"]?.string ?? "The tenant could not be created."),
                                    status: status == 0 ? 400 : status)
        }
        return WebResponse.page(pages.shownOnce(.tenantCreated, json, back: "/console/tenants/" + PercentEncoding.encode(json["tenant"]?["id"]?.string ?? "")),
                                status: 201)
    }

    private func outcome(_ result: (Int, JSONValue?), back: String) -> HTTPResponse {
        if (200..<300).contains(result.0) { return WebResponse.redirect(back) }
        return failure(result, back: back)
    }

    private func secret(_ result: (Int, JSONValue?), back: String, kind: ConsolePages.SecretKind) -> HTTPResponse {
        guard (200..<300).contains(result.0), let json = result.1 else { return failure(result, back: back) }
        return WebResponse.page(pages.shownOnce(kind, json, back: back), status: 201)
    }

    private func failure(_ result: (Int, JSONValue?), back: String) -> HTTPResponse {
        let message = result.1?["message"]?.string ?? "The request failed (HTTP \(result.0))."
        return WebResponse.page(pages.layout("Not done", "<h1>Not done</h1><p class=\"error\" role=\"alert\">\(message)</p><p><a href=\"\(back)\">Back</a></p>"),
                                status: result.0 >= 400 ? result.0 : 400)
    }

    private func notFound() -> HTTPResponse {
        WebResponse.page(pages.layout("Not found", "<h1>Not found</h1><p>There is no such action.</p>"), status: 404)
    }
}
