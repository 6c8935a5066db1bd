import Crypto
import HTTPCore
import Testing
import WebUI

@Suite struct WebUITests {
    static let hostile = [
        "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "' onmouseover='alert(1)", "a&b<c>d\"e'f",
        "</textarea><svg/onload=alert(1)>", "javascript:alert(1)", "{{7*7}}", "\u{202E}evil",
    ]

    @Test func interpolatedTextIsEscapedAndMarkupIsNot() {
        for payload in Self.hostile {
            let cell: HTML = "<td title=\"\(payload)\">\(payload)</td>"
            #expect(!cell.rendered.contains("<script"))
            #expect(!cell.rendered.contains("<img"))
            #expect(!cell.rendered.contains("<svg"))
            // Inside the quoted attribute, no quote survives unescaped: the attribute cannot be closed.
            let attribute = cell.rendered.dropFirst("<td title=\"".count).prefix { $0 != "\"" }
            #expect(attribute.count + "<td title=\"".count + 1 < cell.rendered.count)
            #expect(cell.rendered.hasSuffix("</td>"))
            #expect(!payload.contains("'") || cell.rendered.contains("&#39;"))
        }
        let inner: HTML = "<b>\("x<y")</b>"
        let outer: HTML = "<p>\(inner)</p>"
        #expect(outer.rendered == "<p><b>x&lt;y</b></p>")
        #expect(HTML.escape("a&b") == "a&amp;b")
        #expect(HTML.escape("plain") == "plain")
        let optional: String? = nil
        let fallback: HTML = "\(optional, default: "<none>")"
        #expect(fallback.rendered == "&lt;none&gt;")
    }

    @Test func sessionsOpenOnlyWhenSignedUnexpiredAndOfTheirKind() {
        let key = WebSession.key(from: SecureRandom.bytes(32))
        let other = WebSession.key(from: SecureRandom.bytes(32))
        let s = WebSession(kind: .setup, subject: "link1", tenant: "t1", issuedAt: 1000, expiresAt: 2000)
        let sealed = s.sealed(with: key)
        #expect(WebSession.open(sealed, keys: [key], kind: .setup, nowSeconds: 1500) == s)
        #expect(WebSession.open(sealed, keys: [other, key], kind: .setup, nowSeconds: 1500) == s, "a previous key still opens it")
        #expect(WebSession.open(sealed, keys: [other], kind: .setup, nowSeconds: 1500) == nil)
        #expect(WebSession.open(sealed, keys: [key], kind: .console, nowSeconds: 1500) == nil, "a setup session is not a console session")
        #expect(WebSession.open(sealed, keys: [key], kind: .setup, nowSeconds: 2000) == nil, "expired")
        // Tampering with the payload (another tenant) breaks the signature.
        let parts = sealed.split(separator: ".")
        let forgedPayload = Base64.encode(Array("s|link1|t2|1000|2000|\(s.nonce)".utf8), urlSafe: true)
        #expect(WebSession.open("v1.\(forgedPayload).\(parts[2])", keys: [key], kind: .setup, nowSeconds: 1500) == nil)
        for junk in ["", "v1", "v1..", "v2.\(parts[1]).\(parts[2])", String(repeating: "A", count: 5000), sealed + "x"] {
            #expect(WebSession.open(junk, keys: [key], kind: .setup, nowSeconds: 1500) == nil)
        }
    }

    @Test func csrfTokensAreBoundToTheSession() {
        let key = WebSession.key(from: SecureRandom.bytes(32))
        let a = WebSession(kind: .console, subject: "k1", tenant: "-", issuedAt: 0, expiresAt: 10)
        let b = WebSession(kind: .console, subject: "k1", tenant: "-", issuedAt: 0, expiresAt: 10)
        let token = a.csrfToken(with: key)
        #expect(a.acceptsCSRF(token, keys: [key]))
        #expect(!b.acceptsCSRF(token, keys: [key]), "another session's token (other nonce) is refused")
        #expect(!a.acceptsCSRF(nil, keys: [key]))
        #expect(!a.acceptsCSRF("", keys: [key]))
        #expect(!a.acceptsCSRF(token + "A", keys: [key]))
    }

    @Test func pagesCarryTheSecurityHeadersAndCookiesTheirFlags() {
        let r = WebResponse.page("<p>hi</p>")
        let csp = r.headers["Content-Security-Policy"] ?? ""
        #expect(csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"))
        #expect(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"))
        #expect(r.headers["X-Frame-Options"] == "DENY")
        #expect(r.headers["Referrer-Policy"] == "same-origin")
        #expect(r.headers["Cache-Control"] == "no-store")
        let secure = WebResponse.cookie(name: "s", value: "v", path: "/setup", maxAge: 60, secure: true)
        #expect(secure.contains("HttpOnly") && secure.contains("SameSite=Strict") && secure.hasSuffix("; Secure"))
        #expect(!WebResponse.cookie(name: "s", value: "v", path: "/", maxAge: 60, secure: false).contains("Secure"))
        #expect(WebResponse.cookie("b", in: "a=1; b=two; c=3") == "two")
        #expect(WebResponse.cookie("b", in: "ab=1") == nil)
        var cross = HTTPRequest(method: .post, target: "/x")
        cross.headers.add("Sec-Fetch-Site", "cross-site")
        #expect(WebResponse.isCrossSite(cross))
        var same = HTTPRequest(method: .post, target: "/x")
        same.headers.add("Origin", "http://127.0.0.1:8080")
        same.headers.add("Host", "127.0.0.1:8080")
        #expect(!WebResponse.isCrossSite(same))
        var evil = HTTPRequest(method: .post, target: "/x")
        evil.headers.add("Origin", "https://evil.example")
        evil.headers.add("Host", "api.example.com")
        #expect(WebResponse.isCrossSite(evil))
    }

    @Test func theLayoutLoadsOnlyOurOwnAssets() {
        let page = PageLayout.render(title: "<t>", brand: "b", assetBase: "/setup/static/", body: "<p>x</p>").rendered
        #expect(page.contains("<title>&lt;t&gt; · b</title>"))
        #expect(page.contains("href=\"/setup/static/app.css?v="))
        #expect(page.contains("src=\"/setup/static/app.js?v="))
        #expect(!page.contains("<script>"), "no inline script")
        #expect(!page.contains("style=\""), "no inline style")
        #expect(!page.contains("http://") && !page.contains("https://"), "nothing from elsewhere")
    }
}
