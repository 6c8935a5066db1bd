/// The stylesheet and the one script of the web pages, served by the gateway itself (nothing from a CDN; the
/// Content-Security-Policy allows only these). Versioned by a content hash in their URL, so caching is safe.
public struct WebAsset: Sendable {
    public var name: String
    public var contentType: String
    public var body: String

    /// `name?v=<hash>`: the URL pages link to.
    public var versionedName: String { name + "?v=" + String(UInt32(truncatingIfNeeded: body.utf8.reduce(5381) { ($0 &* 33) ^ UInt64($1) }), radix: 36) }

    public static let stylesheet = WebAsset(name: "app.css", contentType: "text/css; charset=utf-8", body: """
        :root { --fg: #1b1f24; --muted: #4a5361; --bg: #ffffff; --panel: #f4f6f8; --line: #cfd6de; --accent: #0b5cad;
                --ok: #176b2c; --bad: #a3161b; --warn: #7a4d00; font-size: 16px; }
        * { box-sizing: border-box; }
        body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
               background: var(--bg); line-height: 1.5; }
        a { color: var(--accent); }
        a:focus, button:focus, input:focus, select:focus, summary:focus { outline: 3px solid #f2b400; outline-offset: 2px; }
        header.top { background: #14283c; color: #fff; padding: .75rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem;
                     align-items: center; }
        header.top a { color: #fff; }
        header.top .brand { font-weight: 700; }
        header.top nav a { margin-right: 1rem; }
        main { max-width: 64rem; margin: 0 auto; padding: 1rem; }
        h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
        h2 { font-size: 1.25rem; margin: 1.5rem 0 .5rem; }
        .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin: 1rem 0; }
        .muted { color: var(--muted); }
        .ok { color: var(--ok); font-weight: 600; }
        .bad { color: var(--bad); font-weight: 600; }
        .warn { color: var(--warn); font-weight: 600; }
        .notice { border-left: 4px solid var(--accent); background: #e9f2fb; padding: .75rem 1rem; margin: 1rem 0; }
        .error { border-left: 4px solid var(--bad); background: #fdecec; padding: .75rem 1rem; margin: 1rem 0; }
        .secret { font-family: ui-monospace, Menlo, Consolas, monospace; background: #fff; border: 1px solid var(--line);
                  padding: .4rem .5rem; word-break: break-all; display: block; }
        code { font-family: ui-monospace, Menlo, Consolas, monospace; background: #eef1f4; padding: 0 .2rem; word-break: break-all; }
        table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .95rem; }
        th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: var(--panel); }
        .table-wrap { overflow-x: auto; }
        form.inline { display: inline; }
        label { display: block; font-weight: 600; margin: .5rem 0 .25rem; }
        input[type=text], input[type=password], input[type=number], select { width: 100%; max-width: 28rem; padding: .45rem;
                  border: 1px solid #8792a0; border-radius: 4px; font-size: 1rem; }
        button, .button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: .5rem .9rem;
                  font-size: 1rem; cursor: pointer; text-decoration: none; display: inline-block; margin: .25rem .25rem .25rem 0; }
        button.danger { background: var(--bad); }
        button.secondary { background: #4a5361; }
        ol.steps li { margin-bottom: .5rem; }
        ul.idps { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .5rem; }
        ul.idps a { display: block; padding: .6rem 1rem; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
        dl.values dt { font-weight: 600; margin-top: .5rem; }
        dl.values dd { margin: 0; }
        footer { color: var(--muted); font-size: .85rem; padding: 2rem 1rem; text-align: center; }
        @media (max-width: 40rem) { main { padding: .5rem; } th, td { padding: .3rem; } h1 { font-size: 1.3rem; } }
        """)

    /// The live connection check refreshes itself; confirmations for destructive buttons. No inline handlers (the
    /// CSP forbids them): behaviour attaches to `data-` attributes.
    public static let script = WebAsset(name: "app.js", contentType: "text/javascript; charset=utf-8", body: """
        "use strict";
        document.addEventListener("DOMContentLoaded", function () {
          document.querySelectorAll("form[data-confirm]").forEach(function (form) {
            form.addEventListener("submit", function (event) {
              if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
            });
          });
          var live = document.querySelector("[data-live-check]");
          if (live) {
            var url = live.getAttribute("data-live-check");
            var refresh = function () {
              fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
                .then(function (r) { return r.ok ? r.text() : null; })
                .then(function (html) {
                  if (html === null) { return; }
                  var doc = new DOMParser().parseFromString(html, "text/html");
                  var fresh = doc.querySelector("[data-live-check]");
                  if (fresh) { live.replaceChildren.apply(live, Array.from(fresh.childNodes)); }
                })
                .catch(function () {});
            };
            window.setInterval(refresh, 3000);
          }
        });
        """)
}
