public import HTTPCore

/// The answers of the web pages, each with the headers an admin UI must have: a strict Content-Security-Policy
/// (nothing inline, nothing from elsewhere: our own stylesheet and script only), no framing, no sniffing, a referrer
/// only to ourselves (a setup link must never leak through `Referer` to another site; `no-referrer` would also make
/// browsers send `Origin: null` on our own form posts, which the cross-site check must refuse), and no caching of
/// pages that show secrets.
public enum WebResponse {
    public static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    public static func page(_ html: HTML, status: Int = 200) -> HTTPResponse {
        var r = HTTPResponse(status: HTTPStatus(code: status), headers: ["Content-Type": "text/html; charset=utf-8"],
                             body: Array(html.rendered.utf8))
        secure(&r)
        return r
    }

    /// 303 See Other (after a POST, so a reload does not repeat it).
    public static func redirect(_ location: String) -> HTTPResponse {
        var r = HTTPResponse(status: HTTPStatus(code: 303), headers: ["Location": location], body: [])
        secure(&r)
        return r
    }

    public static func json(_ body: [UInt8], status: Int = 200) -> HTTPResponse {
        var r = HTTPResponse(status: HTTPStatus(code: status), headers: ["Content-Type": "application/json"], body: body)
        secure(&r)
        return r
    }

    public static func asset(_ asset: WebAsset) -> HTTPResponse {
        var r = HTTPResponse(status: .ok, headers: ["Content-Type": asset.contentType], body: Array(asset.body.utf8))
        r.headers.set("Cache-Control", "public, max-age=86400")
        r.headers.set("X-Content-Type-Options", "nosniff")
        return r
    }

    public static func secure(_ r: inout HTTPResponse) {
        r.headers.set("Content-Security-Policy", contentSecurityPolicy)
        r.headers.set("X-Frame-Options", "DENY")
        r.headers.set("X-Content-Type-Options", "nosniff")
        r.headers.set("Referrer-Policy", "same-origin")
        r.headers.set("Cache-Control", "no-store")
        r.headers.set("Cross-Origin-Opener-Policy", "same-origin")
    }

    /// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=<path>`, `Secure` unless `secure` is false (plain
    /// http on loopback, for development only).
    public static func cookie(name: String, value: String, path: String, maxAge: Int, secure: Bool) -> String {
        "\(name)=\(value); Path=\(path); Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The value of cookie `name` in a `Cookie` header.
    public static func cookie(_ name: String, in header: String?) -> String? {
        guard let header else { return nil }
        for piece in header.split(separator: ";") {
            let kv = piece.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            var key = kv[0][...]
            while key.first == " " { key = key.dropFirst() }
            if key == name { return String(kv[1]).trimmingSpaces() }
        }
        return nil
    }

    /// A form body (`application/x-www-form-urlencoded`), or nil if it is not one.
    public static func form(_ request: HTTPRequest, maxBytes: Int = 16 * 1024) -> QueryParameters? {
        let type = request.headers["Content-Type"]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded"), request.body.count <= maxBytes,
              let text = String(validating: request.body, as: UTF8.self) else { return nil }
        return QueryParameters(text)
    }

    /// A browser's cross-site POST: `Sec-Fetch-Site` (or `Origin`) says the form was not ours. A second wall next
    /// to the CSRF token; requests without these headers (old browsers, tests) rely on the token alone.
    public static func isCrossSite(_ request: HTTPRequest) -> Bool {
        if let site = request.headers["Sec-Fetch-Site"]?.lowercased() {
            return site != "same-origin" && site != "none"
        }
        if let origin = request.headers["Origin"], let host = request.headers["Host"] {
            if origin == "null" { return true }
            guard let schemeEnd = origin.firstRange(of: "://") else { return true }
            return origin[schemeEnd.upperBound...].lowercased() != host.lowercased()
        }
        return false
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
