import Crypto
import HTTPCore
import RegionSCIM

/// A webhook endpoint URL, parsed and checked against the delivery policy.
///
/// Only `https://` is accepted, except plain `http://` to a loopback address (a receiver on the same host, tests) or
/// when the region runs with `--webhook-allow-http`. No user info, no fragment, ASCII only, at most 2048 bytes.
package struct WebhookURL: Sendable, Equatable, CustomStringConvertible {
    /// Whether the endpoint speaks TLS.
    package var isHTTPS: Bool
    /// Host name or IP literal (without brackets).
    package var host: String
    /// TCP port (default 443 / 80).
    package var port: Int
    /// Path and query, at least `/`.
    package var target: String

    /// The URL as configured (normalised: lowercase scheme and host).
    package var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let defaultPort = isHTTPS ? 443 : 80
        return (isHTTPS ? "https://" : "http://") + shownHost + (port == defaultPort ? "" : ":\(port)") + target
    }

    /// Whether the host is a loopback address or `localhost`.
    package var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Why a URL was refused (fixed phrases, safe to return to the operator).
    package enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed
        case insecure
        package var description: String {
            switch self {
            case .malformed: "url must be an absolute http(s) URL without user info or fragment (at most 2048 ASCII characters)"
            case .insecure: "url must use https (plain http is only allowed to a loopback address, or with --webhook-allow-http)"
            }
        }
    }

    /// Parses `text`; `allowInsecure` permits plain http to any host.
    package static func parse(_ text: String, allowInsecure: Bool) -> Result<WebhookURL, Problem> {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 2048, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
              !bytes.contains(UInt8(ascii: "#")) else { return .failure(.malformed) }
        let lower = text.lowercased()
        let isHTTPS: Bool
        let rest: Substring
        if lower.hasPrefix("https://") {
            isHTTPS = true
            rest = text.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            isHTTPS = false
            rest = text.dropFirst(7)
        } else {
            return .failure(.malformed)
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty { target = "/" } else if target.hasPrefix("?") { target = "/" + target }
        guard !authority.isEmpty, !authority.contains("@") else { return .failure(.malformed) }
        var host: Substring
        var portText: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .failure(.malformed) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return .failure(.malformed) }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        var port = isHTTPS ? 443 : 80
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { return .failure(.malformed) }
            port = p
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" })
        else { return .failure(.malformed) }
        let url = WebhookURL(isHTTPS: isHTTPS, host: host.lowercased(), port: port, target: target)
        if !isHTTPS && !allowInsecure && !url.isLoopback { return .failure(.insecure) }
        return .success(url)
    }

    /// `scheme://host:port`: connections are pooled per origin.
    var origin: String { (isHTTPS ? "https://" : "http://") + host + ":\(port)" }
}
