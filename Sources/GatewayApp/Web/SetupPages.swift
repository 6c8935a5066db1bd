import Postgres
import Telemetry
import WebUI

/// The HTML of the setup pages. Every value is interpolated into `HTML`, which escapes it.
struct SetupPages: Sendable {
    static let brand = "SCIM setup"
    static let assets = "/setup/static/"

    let tenant: Tenant
    let link: SetupLink
    let scimBaseURL: String
    let csrf: String

    func layout(title: String, body: HTML) -> HTML {
        let nav: HTML = """
            <a href="/setup">Overview</a>\
            <form class="inline" method="post" action="/setup/logout">\(PageLayout.csrfField(csrf))\
            <button type="submit" class="secondary">Sign out</button></form>
            """
        return PageLayout.render(title: title, brand: Self.brand + " · " + tenant.name, assetBase: Self.assets, nav: nav, body: body)
    }

    static func message(title: String, text: String) -> HTML {
        PageLayout.render(title: title, brand: brand, assetBase: assets, body: "<h1>\(title)</h1><p>\(text)</p>")
    }

    static func landing(tenant: Tenant, link: SetupLink, presented: String) -> HTML {
        PageLayout.render(title: "Set up provisioning", brand: brand, assetBase: assets, body: """
            <h1>Set up user provisioning for \(tenant.name)</h1>
            <p>Your provider invited you to connect your identity provider (Okta, Microsoft Entra ID, JumpCloud, OneLogin,
            Google, Ping, Rippling or another SCIM client) so that users and groups are kept in sync automatically.</p>
            <p class="muted">This link works until \(link.expiresAt.iso8601) and can be revoked by your provider.</p>
            <form method="post" action="/setup/start">
            <input type="hidden" name="link" value="\(presented)">
            <button type="submit">Start setup</button>
            </form>
            """)
    }

    func home(tokens: [TokenRecord], recent: Result<[ObservedRequest], RequestLogClient.Failure>, flash: String?,
              tokenCheck: (RequestExplanation.Tone, String)?, graceHours: Int) -> HTML {
        var notices: [HTML] = []
        switch flash {
        case "deactivated"?: notices.append("<p class=\"notice\" role=\"status\">The integration is deactivated: every request from your IdP is refused and nothing is changed until you reactivate it.</p>")
        case "reactivated"?: notices.append("<p class=\"notice\" role=\"status\">The integration is active again.</p>")
        case "not-confirmed"?: notices.append("<p class=\"error\" role=\"alert\">Tick the confirmation box to change the integration state.</p>")
        case "no-such-token"?: notices.append("<p class=\"error\" role=\"alert\">That token no longer exists or was already replaced.</p>")
        case "bad-grace"?, "missing-token"?: notices.append("<p class=\"error\" role=\"alert\">The rotation request was not valid.</p>")
        default: break
        }
        let active = tenant.integrationState == .active
        let state: HTML = active ? "<span class=\"ok\">active</span>" : "<span class=\"bad\">deactivated</span>"
        let idps = IdPGuide.all.map { g -> HTML in "<li><a href=\"/setup/idp/\(g.id)\">\(g.name)</a></li>" }
        let tokenRows: [HTML] = tokens.map { t in
            """
            <tr><td><code>\(t.id)</code></td><td>\(t.label, default: "-")</td><td>\(t.createdAt.iso8601)</td>\
            <td>\(t.lastUsedAt?.iso8601, default: "never")</td><td>\(t.expiresAt.map { "until " + $0.iso8601 }, default: "no expiry")</td>\
            <td><form method="post" action="/setup/token/rotate" data-confirm="Issue a new token to replace this one?">\
            \(PageLayout.csrfField(csrf))<input type="hidden" name="token" value="\(t.id)">\
            <label for="grace-\(t.id)">Old token keeps working for (hours)</label>\
            <input id="grace-\(t.id)" type="number" name="grace" min="0" max="720" value="\(graceHours)">\
            <button type="submit">Rotate</button></form></td></tr>
            """
        }
        let tokenTable: HTML = tokenRows.isEmpty
            ? "<p>No token yet: choose your identity provider above to generate one.</p>"
            : "<div class=\"table-wrap\"><table><caption class=\"muted\">Tokens (secrets are never shown again)</caption><thead><tr><th>Token id</th><th>Label</th><th>Created</th><th>Last used</th><th>Expiry</th><th>Rotate</th></tr></thead><tbody>\(tokenRows)</tbody></table></div>"
        let checkResult: HTML = tokenCheck.map { "<p class=\"\($0.0.rawValue)\" role=\"status\">\($0.1)</p>" } ?? .empty
        let integration: HTML = active
            ? """
              <form method="post" action="/setup/integration" data-confirm="Deactivate? Your IdP's requests will be refused until you reactivate.">\
              \(PageLayout.csrfField(csrf))<input type="hidden" name="action" value="deactivate">\
              <label><input type="checkbox" name="confirm" value="yes"> I understand that provisioning stops until I reactivate</label>\
              <button type="submit" class="danger">Deactivate integration</button></form>
              """
            : """
              <form method="post" action="/setup/integration">\(PageLayout.csrfField(csrf))<input type="hidden" name="action" value="reactivate">\
              <label><input type="checkbox" name="confirm" value="yes"> Resume provisioning</label>\
              <button type="submit">Reactivate integration</button></form>
              """
        return layout(title: "Overview", body: """
            <h1>Provisioning for \(tenant.name)</h1>
            \(notices)
            <div class="panel">
            <dl class="values">
            <dt>SCIM base URL</dt><dd><code class="secret">\(scimBaseURL)</code></dd>
            <dt>Region</dt><dd>\(tenant.homeRegion)</dd>
            <dt>Integration</dt><dd>\(state)</dd>
            </dl>
            </div>
            <h2>1. Choose your identity provider</h2>
            <ul class="idps">\(idps)</ul>
            <h2>2. Connection check</h2>
            \(liveCheck(recent))
            <h3>Check a token</h3>
            <form method="post" action="/setup/check-token">\(PageLayout.csrfField(csrf))
            <label for="check-token">Paste the token your IdP is configured with</label>
            <input id="check-token" type="password" name="token" autocomplete="off">
            <button type="submit">Check token</button>
            </form>
            \(checkResult)
            <h2>3. Tokens</h2>
            \(tokenTable)
            <h2>4. Integration</h2>
            <p>Deactivate when you disconnect or change IdP (JumpCloud and others expect deactivate → new token → reactivate).</p>
            \(integration)
            """)
    }

    /// The live check: the latest requests from the tenant's request log, with what each means. The element's
    /// `data-live-check` makes app.js refresh it every few seconds.
    func liveCheck(_ recent: Result<[ObservedRequest], RequestLogClient.Failure>) -> HTML {
        let content: HTML
        switch recent {
        case .failure:
            content = "<p class=\"warn\">The request log cannot be read right now; this check retries by itself.</p>"
        case .success(let records) where records.isEmpty:
            content = "<p>No requests from your IdP yet. Run your IdP's connection test: it shows up here within seconds.</p>"
        case .success(let records):
            let failing = records.first { $0.status >= 400 && !($0.status == 404 && $0.method == "GET") }
            let summary: HTML
            if let f = failing {
                let (tone, text) = RequestExplanation.explain(f, scimBaseURL: scimBaseURL)
                summary = "<p class=\"\(tone.rawValue)\" role=\"status\">Latest problem (\(f.at)): \(text)</p>"
            } else {
                summary = "<p class=\"ok\" role=\"status\">Requests are arriving and succeeding. Last one at \(records[0].at).</p>"
            }
            let rows: [HTML] = records.map { r in
                let (tone, text) = RequestExplanation.explain(r, scimBaseURL: scimBaseURL)
                return """
                    <tr><td>\(r.at)</td><td>\(r.method) \(r.route)</td><td>\(r.subject, default: "")</td>\
                    <td class="\(tone.rawValue)">\(r.status)</td><td>\(text)</td><td>\(r.idp, default: "")</td></tr>
                    """
            }
            content = """
                \(summary)
                <div class="table-wrap"><table><thead><tr><th>Time (UTC)</th><th>Request</th><th>About</th><th>Status</th>\
                <th>What it means</th><th>Client</th></tr></thead><tbody>\(rows)</tbody></table></div>
                """
        }
        return "<section class=\"panel\" data-live-check=\"/setup/live\" aria-live=\"polite\">\(content)</section>"
    }

    func guidePage(_ guide: IdPGuide, issued: TokenCredential?, notice: String? = nil, error: String? = nil) -> HTML {
        let fields: [HTML] = guide.fields.map { (label, value) -> HTML in
            let shown: HTML
            switch value {
            case .scimBaseURL: shown = "<code class=\"secret\">\(scimBaseURL)</code>"
            case .literal(let text): shown = "<code>\(text)</code>"
            case .token:
                shown = issued.map { "<code class=\"secret\" data-secret>\($0.token)</code>" }
                    ?? "<span class=\"muted\">generate a token below</span>"
            case .keyPair:
                shown = issued.map { "<code class=\"secret\">\($0.keyPairForm)</code>" } ?? "<span class=\"muted\">generate a token below</span>"
            }
            return "<dt>\(label)</dt><dd>\(shown)</dd>"
        }
        let steps = guide.steps.map { s -> HTML in "<li>\(s)</li>" }
        let tokenPart: HTML = issued != nil
            ? "<p class=\"notice\" role=\"status\"><strong>Copy the token now: it is shown only once.</strong> \(notice ?? "")</p>"
            : """
              <form method="post" action="/setup/token">\(PageLayout.csrfField(csrf))<input type="hidden" name="idp" value="\(guide.id)">\
              <button type="submit">Generate a token for \(guide.name)</button></form>
              """
        let errorPart: HTML = error.map { "<p class=\"error\" role=\"alert\">\($0)</p>" } ?? .empty
        return layout(title: guide.name, body: """
            <h1>Connect \(guide.name)</h1>
            <p>Go to: <strong>\(guide.whereToGo)</strong></p>
            \(errorPart)
            <div class="panel"><dl class="values">\(fields)</dl></div>
            \(tokenPart)
            <h2>Steps</h2>
            <ol class="steps">\(steps)</ol>
            <p><strong>Matching and attributes.</strong> \(guide.matching)</p>
            <p><strong>Connection test.</strong> \(guide.connectionTest)</p>
            <p><a href="/setup">Back to the overview and the connection check</a></p>
            """)
    }
}
