import HTTPCore
import JSON
import Telemetry
import WebUI

/// The HTML of the operator console. Every value comes from the admin API's JSON and is interpolated into `HTML`,
/// which escapes it.
struct ConsolePages {
    static let brand = "SCIM gateway console"
    static let assets = "/console/static/"

    let csrf: String

    func layout(_ title: String, _ body: HTML) -> HTML {
        let nav: HTML = """
            <a href="/console">Tenants</a><a href="/console/tenants/new">New tenant</a><a href="/console/keys">Keys</a>\
            <a href="/console/regions">Regions</a>\
            <form class="inline" method="post" action="/console/logout">\(csrfField)<button type="submit" class="secondary">Sign out</button></form>
            """
        return PageLayout.render(title: title, brand: Self.brand, assetBase: Self.assets, nav: nav, body: body)
    }

    var csrfField: HTML { PageLayout.csrfField(csrf) }

    static func message(_ title: String, _ text: String) -> HTML {
        PageLayout.render(title: title, brand: brand, assetBase: assets, body: "<h1>\(title)</h1><p>\(text)</p>")
    }

    static func login(error: String?) -> HTML {
        let err: HTML = error.map { "<p class=\"error\" role=\"alert\">\($0)</p>" } ?? .empty
        return PageLayout.render(title: "Sign in", brand: brand, assetBase: assets, body: """
            <h1>Sign in</h1>
            \(err)
            <form method="post" action="/console/login">
            <label for="token">Admin token (scimadm_…)</label>
            <input id="token" type="password" name="token" autocomplete="off" required>
            <button type="submit">Sign in</button>
            </form>
            <p class="muted">The admin token is in the file given to the gateway with --admin-token-file (make run: .run/admin-token).</p>
            """)
    }

    // MARK: - Tenants

    struct TenantRow {
        var tenant: JSONValue
        var activity: TenantActivity.Summary
        var counts: (users: Int, groups: Int)?
    }

    static func time(_ millis: Int64?) -> String {
        guard let millis else { return "never (on this replica)" }
        let ago = max(0, (Timestamp.nowEpochMillis() - millis) / 1000)
        if ago < 120 { return "\(ago) s ago" }
        if ago < 7200 { return "\(ago / 60) min ago" }
        return "\(ago / 3600) h ago"
    }

    static func percent(_ part: Int, _ whole: Int) -> String {
        whole == 0 ? "-" : String(Double(Int(Double(part) * 1000 / Double(whole))) / 10) + " %"
    }

    func tenants(_ rows: [TenantRow], health: [String: Bool]) -> HTML {
        let body: [HTML] = rows.map { r in
            let t = r.tenant
            let id = t["id"]?.string ?? ""
            let active = t["integrationState"]?.string == "active"
            let state: HTML = active ? "<span class=\"ok\">active</span>" : "<span class=\"bad\">deactivated</span>"
            return """
                <tr><td><a href="/console/tenants/\(id)">\(t["name"]?.string, default: "")</a></td><td>\(t["region"]?.string, default: "")</td>\
                <td>\(state)</td><td>\(Self.time(r.activity.lastRequestMillis))</td><td>\(r.activity.total)</td>\
                <td>\(Self.percent(r.activity.clientErrors + r.activity.serverErrors, r.activity.total))</td><td>\(r.activity.rateLimited)</td>\
                <td>\(r.counts.map { String($0.users) }, default: "?")</td><td>\(r.counts.map { String($0.groups) }, default: "?")</td></tr>
                """
        }
        let regions: [HTML] = health.keys.sorted().map { id in
            health[id] == true ? "<li>\(id): <span class=\"ok\">ready</span></li>" : "<li>\(id): <span class=\"bad\">unreachable</span></li>"
        }
        return layout("Tenants", """
            <h1>Tenants</h1>
            <p><a class="button" href="/console/tenants/new">Create a tenant</a></p>
            <div class="table-wrap"><table>
            <caption class="muted">Traffic columns: the last 5 minutes on this gateway replica. Users and groups: from each tenant's region.</caption>
            <thead><tr><th>Name</th><th>Region</th><th>Integration</th><th>Last request</th><th>Requests</th><th>Errors</th><th>429</th>\
            <th>Users</th><th>Groups</th></tr></thead>
            <tbody>\(body)</tbody></table></div>
            <h2>Regions</h2><ul>\(regions)</ul>
            """)
    }

    func newTenant(regions: [String], error: String?) -> HTML {
        let options: [HTML] = (regions.isEmpty ? ["us", "eu2"] : regions).map { "<option value=\"\($0)\">\($0)</option>" }
        let err: HTML = error.map { "<p class=\"error\" role=\"alert\">\($0)</p>" } ?? .empty
        return layout("New tenant", """
            <h1>Create a tenant</h1>
            \(err)
            <form method="post" action="/console/tenants">\(csrfField)
            <label for="name">Name</label><input id="name" type="text" name="name" required maxlength="200">
            <label for="region">Home region (where its directory data lives)</label><select id="region" name="region">\(options)</select>
            <label for="deprovision">What DELETE /Users does</label>
            <select id="deprovision" name="deprovision"><option value="soft">soft (tombstone)</option><option value="hard">hard</option>\
            <option value="refuse">refuse (405)</option></select>
            <button type="submit">Create tenant</button>
            </form>
            """)
    }

    // MARK: - One tenant

    struct TenantData {
        var tenant: JSONValue
        var counts: (users: Int, groups: Int)?
        var activity: TenantActivity.Summary
        var tokens: [JSONValue]
        var oauthClients: [JSONValue]
        var setupLinks: [JSONValue]
        var quirks: JSONValue?
        var events: [JSONValue]?
        var webhook: JSONValue?
        var audit: [AuditEntry]
        var requestLog: Result<[ObservedRequest], RequestLogClient.Failure>
        var filters: QueryParameters
        /// `GET …/roles` and `GET …/attribute-mapping` as the admin API answers them (nil: the region did not answer).
        var roles: JSONValue? = nil
        var mapping: JSONValue? = nil
    }

    /// The app's view of the directory (issue 18), read-only: role rules and profile fields with their recompute
    /// jobs. Changing them is `scimctl roles set` / `mapping set` (or the admin API), which validate and preview.
    func directory(roles: JSONValue?, mapping: JSONValue?) -> HTML {
        func job(_ j: JSONValue?) -> HTML {
            guard let j, let state = j["state"]?.string, state != "none" else { return "<span class=\"muted\">never recomputed</span>" }
            let total = j["total"]?.int.map(String.init) ?? "?"
            let error: HTML = j["lastError"]?.string.map { " · <span class=\"bad\">last error: \($0)</span>" } ?? .empty
            return "recompute \(state): \(j["processed"]?.int ?? 0)/\(total) users, \(j["changed"]?.int ?? 0) changed\(error)"
        }
        var parts: [HTML] = []
        if let config = roles?["config"], !config.isNull {
            let roleRows: [HTML] = (config["roles"]?.array ?? []).map { r in
                let implies = (r["implies"]?.array ?? []).compactMap(\.string).joined(separator: ", ")
                return "<tr><td><code>\(r["key"]?.string, default: "")</code></td><td>\(r["name"]?.string, default: "")</td><td>\(implies)</td></tr>"
            }
            let ruleRows: [HTML] = (config["rules"]?.array ?? []).map { r in
                let selector = r["group"]?.object?.first.map { "\($0.key) \($0.value.string ?? "")" } ?? ""
                return "<tr><td>\(selector)</td><td>\(r["match"]?.string, default: "exact")</td><td><code>\(r["role"]?.string, default: "")</code></td></tr>"
            }
            parts.append("""
                <p>\(job(roles?["recompute"])) · assignment \(config["assignment"]?.string, default: "highest") · \
                default role \(config["defaultRole"]?.string, default: "none (no matching group: no access)")</p>
                <div class="table-wrap"><table><thead><tr><th>Role</th><th>Name</th><th>Implies</th></tr></thead><tbody>\(roleRows)</tbody></table></div>
                <div class="table-wrap"><table><thead><tr><th>IdP group</th><th>Match</th><th>Role</th></tr></thead><tbody>\(ruleRows)</tbody></table></div>
                """)
        } else {
            parts.append(roles == nil ? "<p class=\"warn\">The role rules could not be read from the tenant's region.</p>"
                                      : "<p class=\"muted\">No role rules: users have no roles.</p>")
        }
        if let fields = mapping?["mapping"]?["fields"]?.array {
            let rows: [HTML] = fields.map { f in
                let sources = (f["sources"]?.array ?? []).compactMap(\.string).joined(separator: " | ")
                let many = f["multiValued"]?.bool == true ? " (multi-valued)" : ""
                return "<tr><td><code>\(f["name"]?.string, default: "")</code></td><td>\(f["type"]?.string, default: "string")\(many)</td><td><code>\(sources)</code></td></tr>"
            }
            parts.append("""
                <p>Profile fields: \(job(mapping?["recompute"]))</p>
                <div class="table-wrap"><table><thead><tr><th>Field</th><th>Type</th><th>Sources (first with a value)</th></tr></thead><tbody>\(rows)</tbody></table></div>
                """)
        } else {
            parts.append(mapping == nil ? "<p class=\"warn\">The attribute mapping could not be read from the tenant's region.</p>"
                                        : "<p class=\"muted\">No attribute mapping: users have no profile fields.</p>")
        }
        parts.append("<p class=\"muted\">Change them with <code>scimctl roles set</code> and <code>scimctl mapping preview|set</code> (README: For the SaaS app developer).</p>")
        return HTML.join(parts)
    }

    func tenant(_ d: TenantData) -> HTML {
        let t = d.tenant
        let id = t["id"]?.string ?? ""
        let base = "/console/tenants/" + id
        let active = t["integrationState"]?.string == "active"
        let integration: HTML = active
            ? "<form class=\"inline\" method=\"post\" action=\"\(base)/integration\" data-confirm=\"Deactivate this tenant's integration? Every SCIM request will be refused.\">\(csrfField)<input type=\"hidden\" name=\"action\" value=\"deactivate\"><button class=\"danger\" type=\"submit\">Deactivate</button></form>"
            : "<form class=\"inline\" method=\"post\" action=\"\(base)/integration\">\(csrfField)<input type=\"hidden\" name=\"action\" value=\"reactivate\"><button type=\"submit\">Reactivate</button></form>"
        let tokens: [HTML] = d.tokens.map { k in
            let kid = k["id"]?.string ?? ""
            let live = k["status"]?.string == "live" || k["status"]?.string == "expiring"
            let actions: HTML = live ? """
                <form class="inline" method="post" action="\(base)/tokens/\(kid)/rotate">\(csrfField)<label for="g-\(kid)">grace (h)</label>\
                <input id="g-\(kid)" type="number" name="grace" min="0" max="720" value="24"><button type="submit">Rotate</button></form>\
                <form class="inline" method="post" action="\(base)/tokens/\(kid)/revoke" data-confirm="Revoke this token now?">\(csrfField)\
                <button class="danger" type="submit">Revoke</button></form>
                """ : .empty
            return "<tr><td><code>\(kid)</code></td><td>\(k["label"]?.string, default: "-")</td><td>\(k["status"]?.string, default: "")</td><td>\(k["lastUsedAt"]?.string, default: "never")</td><td>\(k["expiresAt"]?.string, default: "-")</td><td>\(actions)</td></tr>"
        }
        let clients: [HTML] = d.oauthClients.map { c in
            let cid = c["clientId"]?.string ?? ""
            let live = c["status"]?.string == "live"
            let actions: HTML = live ? """
                <form class="inline" method="post" action="\(base)/oauth-clients/\(cid)/rotate">\(csrfField)<button type="submit">Rotate secret</button></form>\
                <form class="inline" method="post" action="\(base)/oauth-clients/\(cid)/revoke" data-confirm="Revoke this client and its access tokens?">\(csrfField)\
                <button class="danger" type="submit">Revoke</button></form>
                """ : .empty
            return "<tr><td><code>\(cid)</code></td><td>\(c["label"]?.string, default: "-")</td><td>\(c["status"]?.string, default: "")</td><td>\(c["tokenLifetimeSeconds"]?.int ?? 0) s</td><td>\(c["liveAccessTokens"]?.int ?? 0)</td><td>\(actions)</td></tr>"
        }
        let links: [HTML] = d.setupLinks.map { l in
            let lid = l["id"]?.string ?? ""
            let actions: HTML = l["status"]?.string == "live"
                ? "<form class=\"inline\" method=\"post\" action=\"\(base)/setup-links/\(lid)/revoke\">\(csrfField)<button class=\"danger\" type=\"submit\">Revoke</button></form>"
                : .empty
            return "<tr><td><code>\(lid)</code></td><td>\(l["label"]?.string, default: "-")</td><td>\(l["status"]?.string, default: "")</td><td>\(l["expiresAt"]?.string, default: "")</td><td>\(l["opened"]?.int ?? 0)</td><td>\(l["createdBy"]?.string, default: "")</td><td>\(actions)</td></tr>"
        }
        let scimURL = t["scimBaseURL"]?.string ?? ""
        let logRows: HTML
        switch d.requestLog {
        case .failure: logRows = "<p class=\"warn\">The request log could not be read from the tenant's region.</p>"
        case .success(let records) where records.isEmpty: logRows = "<p>No requests logged (for these filters).</p>"
        case .success(let records):
            let rows: [HTML] = records.map { r in
                let (tone, text) = RequestExplanation.explain(r, scimBaseURL: scimURL)
                return "<tr><td>\(r.at)</td><td>\(r.method) \(r.route)</td><td>\(r.subject, default: "")</td><td class=\"\(tone.rawValue)\">\(r.status)</td><td>\(r.scimType, default: "")</td><td>\(text)</td><td>\(r.idp, default: "")</td></tr>"
            }
            logRows = "<div class=\"table-wrap\"><table><thead><tr><th>Time</th><th>Request</th><th>About</th><th>Status</th><th>scimType</th><th>Meaning</th><th>Client</th></tr></thead><tbody>\(rows)</tbody></table></div>"
        }
        let quirks: [HTML] = (d.quirks?["quirks"]?.array ?? []).map { q in
            "<li><code>\(q["quirk"]?.string, default: "")</code> × \(Int(q["count"]?.int64 ?? 0)) (last \(q["lastSeen"]?.string, default: ""))</li>"
        }
        let events: [HTML] = (d.events ?? []).suffix(20).map { e in
            // An event as RegionEvents.EventFeed renders it: {"id", "type", "occurredAt", "data": {"user": {…}} | {"group": {…}, …}}.
            let subject = e["data"]?["user"] ?? e["data"]?["group"]
            let name = subject?["userName"]?.string ?? subject?["displayName"]?.string ?? ""
            return "<tr><td>\(e["occurredAt"]?.string, default: "")</td><td>\(e["type"]?.string, default: "")</td><td>\(name) <code>\(subject?["id"]?.string, default: "")</code></td></tr>"
        }
        let webhook: HTML = d.webhook.map { w in
            "<p>Endpoint <code>\(w["url"]?.string, default: "")</code>: \(w["state"]?.string, default: "") · backlog \(w["backlog"]?.int ?? 0) · delivered \(w["deliveredEvents"]?.int ?? 0)\(w["lastError"]?.string.map { " · last error: " + $0 } ?? "")</p>"
        } ?? "<p class=\"muted\">No webhook configured.</p>"
        let audit: [HTML] = d.audit.map { a in
            "<tr><td>\(a.at)</td><td>\(a.actor)</td><td>\(a.action)</td><td><code>\(a.tokenID, default: "")</code></td></tr>"
        }
        let regions = d.counts.map { "\($0.users) users · \($0.groups) groups" } ?? "counts unavailable"
        return layout(t["name"]?.string ?? "Tenant", """
            <h1>\(t["name"]?.string, default: "")</h1>
            <div class="panel"><dl class="values">
            <dt>Id</dt><dd><code>\(id)</code></dd>
            <dt>Region</dt><dd>\(t["region"]?.string, default: "") · SCIM URL <code>\(scimURL)</code></dd>
            <dt>Integration</dt><dd>\(active ? HTML("<span class=\"ok\">active</span>") : HTML("<span class=\"bad\">deactivated</span>")) \(integration)</dd>
            <dt>Directory</dt><dd>\(regions)</dd>
            <dt>Last 5 minutes (this replica)</dt><dd>\(d.activity.total) requests, \(Self.percent(d.activity.clientErrors + d.activity.serverErrors, d.activity.total)) errors, \(d.activity.rateLimited) rate-limited · last \(Self.time(d.activity.lastRequestMillis))</dd>
            <dt>Deprovision policy</dt><dd>\(t["deprovisionPolicy"]?.string, default: "")</dd>
            </dl></div>
            <h2>Tokens</h2>
            <div class="table-wrap"><table><thead><tr><th>Id</th><th>Label</th><th>Status</th><th>Last used</th><th>Expires</th><th>Actions</th></tr></thead><tbody>\(tokens)</tbody></table></div>
            <form method="post" action="\(base)/tokens">\(csrfField)<label for="tl">Label</label><input id="tl" type="text" name="label" maxlength="200"><button type="submit">Issue a token</button></form>
            <form method="post" action="\(base)/update-token" data-confirm="Revoke every live credential of this tenant and issue one new token?">\(csrfField)<button class="danger" type="submit">Replace all tokens (IdP "update token")</button></form>
            <h2>Setup links for the IT admin</h2>
            <div class="table-wrap"><table><thead><tr><th>Id</th><th>Label</th><th>Status</th><th>Expires</th><th>Opened</th><th>Created by</th><th></th></tr></thead><tbody>\(links)</tbody></table></div>
            <form method="post" action="\(base)/setup-links">\(csrfField)<label for="ll">Label</label><input id="ll" type="text" name="label" maxlength="200">\
            <label for="ld">Valid for (days, 1–30)</label><input id="ld" type="number" name="days" min="1" max="30" value="7"><button type="submit">Create a setup link</button></form>
            <h2>OAuth clients</h2>
            <div class="table-wrap"><table><thead><tr><th>Client id</th><th>Label</th><th>Status</th><th>Token lifetime</th><th>Live tokens</th><th>Actions</th></tr></thead><tbody>\(clients)</tbody></table></div>
            <form method="post" action="\(base)/oauth-clients">\(csrfField)<label for="ol">Label</label><input id="ol" type="text" name="label" maxlength="200">\
            <label for="om">Access-token lifetime (minutes, 5–360)</label><input id="om" type="number" name="minutes" min="5" max="360" value="60"><button type="submit">Create an OAuth client</button></form>
            <h2>Request log</h2>
            <form method="get" action="\(base)"><label for="fs">Status (2xx, 4xx, 5xx or a code)</label><input id="fs" type="text" name="status" value="\(d.filters["status"] ?? "")">\
            <label for="fu">userName</label><input id="fu" type="text" name="userName" value="\(d.filters["userName"] ?? "")"><button type="submit">Filter</button></form>
            \(logRows)
            <h2>Roles and profile fields (for the app)</h2>
            \(directory(roles: d.roles, mapping: d.mapping))
            <h2>IdP quirks seen</h2><ul>\(quirks.isEmpty ? ["<li class=\"muted\">none</li>"] : quirks)</ul>
            <h2>Events and webhook</h2>
            \(webhook)
            <div class="table-wrap"><table><thead><tr><th>Time</th><th>Type</th><th>Resource</th></tr></thead><tbody>\(events)</tbody></table></div>
            <h2>Audit trail</h2>
            <div class="table-wrap"><table><thead><tr><th>At</th><th>Actor</th><th>Action</th><th>Credential</th></tr></thead><tbody>\(audit)</tbody></table></div>
            """)
    }

    // MARK: - Secrets shown once

    enum SecretKind { case token, rotation, setupLink, oauthClient, tenantCreated }

    func shownOnce(_ kind: SecretKind, _ json: JSONValue, back: String) -> HTML {
        let values: HTML
        switch kind {
        case .token, .tenantCreated, .rotation:
            let t = kind == .token ? json : (kind == .rotation ? json["token"] ?? .null : json["token"] ?? .null)
            let pre: HTML = kind == .tenantCreated ? "<p>Tenant <strong>\(json["tenant"]?["name"]?.string, default: "")</strong> created in \(json["tenant"]?["region"]?.string, default: "").</p>" : .empty
            values = """
                \(pre)
                <dl class="values"><dt>SCIM URL</dt><dd><code class="secret">\(t["scimBaseURL"]?.string, default: "")</code></dd>
                <dt>Token</dt><dd><code class="secret">\(t["token"]?.string, default: "")</code></dd>
                <dt>API_KEY:SCIM_KEY form</dt><dd><code class="secret">\(t["apiKey"]?.string ?? ""):\(t["scimKey"]?.string ?? "")</code></dd></dl>
                """
        case .setupLink:
            values = "<dl class=\"values\"><dt>Setup link (send it to the customer's IT admin)</dt><dd><code class=\"secret\">\(json["url"]?.string, default: "")</code></dd><dt>Expires</dt><dd>\(json["expiresAt"]?.string, default: "")</dd></dl>"
        case .oauthClient:
            values = """
                <dl class="values"><dt>Token endpoint</dt><dd><code class="secret">\(json["tokenEndpoint"]?.string, default: "")</code></dd>
                <dt>Client id</dt><dd><code class="secret">\(json["clientId"]?.string, default: "")</code></dd>
                <dt>Client secret</dt><dd><code class="secret">\(json["clientSecret"]?.string, default: "")</code></dd></dl>
                """
        }
        return layout("Shown once", """
            <h1>Copy this now</h1>
            <p class="notice" role="status"><strong>It is shown only once.</strong> Only its hash is kept.</p>
            <div class="panel">\(values)</div>
            <p><a href="\(back)">Continue</a></p>
            """)
    }

    // MARK: - Keys and regions

    func keys(_ json: JSONValue?) -> HTML {
        var rows: [HTML] = []
        for purpose in ["pepper", "link"] {
            for k in json?[purpose]?.array ?? [] {
                rows.append("<tr><td>\(purpose)</td><td><code>\(k["id"]?.string, default: "")</code></td><td>\(k["state"]?.string, default: "")</td><td>\(k["credentialsUsingIt"]?.int.map(String.init), default: "-")</td></tr>")
            }
        }
        return layout("Keys", """
            <h1>Keys</h1>
            <div class="table-wrap"><table><thead><tr><th>Purpose</th><th>Id</th><th>State</th><th>Credentials using it</th></tr></thead><tbody>\(rows)</tbody></table></div>
            <form method="post" action="/console/keys/pepper/rotate" data-confirm="Stage a new pepper? Existing credentials keep working and are re-hashed on their next use.">\(csrfField)<button type="submit">Rotate the pepper</button></form>
            <p class="muted">Link keys rotate in steps (stage, every region accepts, promote, retire): use <code>scimctl keys rotate link</code>.</p>
            """)
    }

    func regions(_ json: JSONValue?) -> HTML {
        let rows: [HTML] = (json?["regions"]?.array ?? []).map { r in
            let ready = r["ready"]?.bool == true
            return "<tr><td>\(r["id"]?.string, default: "")</td><td><code>\(r["publicBaseURL"]?.string, default: "")</code></td><td>\(r["backend"]?.string, default: "")</td><td>\(ready ? HTML("<span class=\"ok\">ready</span>") : HTML("<span class=\"bad\">unreachable</span>"))</td></tr>"
        }
        return layout("Regions", """
            <h1>Regions</h1>
            <div class="table-wrap"><table><thead><tr><th>Id</th><th>Public SCIM URL</th><th>Backend</th><th>Health</th></tr></thead><tbody>\(rows)</tbody></table></div>
            """)
    }
}
