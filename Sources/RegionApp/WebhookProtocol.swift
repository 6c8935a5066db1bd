import Crypto
import HTTPCore

/// A webhook endpoint URL, parsed and checked against the delivery policy.
///
/// Only `https://` is accepted, except plain `http://` to a loopback address (a receiver on the same host, tests) or
/// when the region runs with `--webhook-allow-http`. No user info, no fragment, ASCII only, at most 2048 bytes.
public struct WebhookURL: Sendable, Equatable, CustomStringConvertible {
    /// Whether the endpoint speaks TLS.
    public var isHTTPS: Bool
    /// Host name or IP literal (without brackets).
    public var host: String
    /// TCP port (default 443 / 80).
    public var port: Int
    /// Path and query, at least `/`.
    public var target: String

    /// The URL as configured (normalised: lowercase scheme and host).
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let defaultPort = isHTTPS ? 443 : 80
        return (isHTTPS ? "https://" : "http://") + shownHost + (port == defaultPort ? "" : ":\(port)") + target
    }

    /// Whether the host is a loopback address or `localhost`.
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Why a URL was refused (fixed phrases, safe to return to the operator).
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed
        case insecure
        public var description: String {
            switch self {
            case .malformed: "url must be an absolute http(s) URL without user info or fragment (at most 2048 ASCII characters)"
            case .insecure: "url must use https (plain http is only allowed to a loopback address, or with --webhook-allow-http)"
            }
        }
    }

    /// Parses `text`; `allowInsecure` permits plain http to any host.
    public static func parse(_ text: String, allowInsecure: Bool) -> Result<WebhookURL, Problem> {
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

/// The signature header on every webhook request, in the style of Stripe's:
///
///     Scim-Gateway-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
///
/// `v1` is hex HMAC-SHA-256, keyed with the endpoint's secret (its UTF-8 bytes), over `"<t>.<raw body>"`.
/// Receivers recompute it over the raw body, compare in constant time, and reject a `t` too far from their clock
/// (5 minutes by default) so a captured request cannot be replayed later; event ids make retries detectable.
/// While a secret is being rotated several `v1=` entries may appear: any one matching is enough.
public enum WebhookSignature {
    /// The header name.
    public static let header = "Scim-Gateway-Signature"
    /// Default replay window for verifiers, in seconds.
    public static let defaultTolerance: Int64 = 300

    /// The header value for `body` sent at `timestamp` (seconds since the epoch).
    public static func sign(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        "t=\(timestamp),v1=" + Hex.encode(mac(secret: secret, timestamp: timestamp, body: body))
    }

    static func mac(secret: String, timestamp: Int64, body: [UInt8]) -> [UInt8] {
        let prefix = Array("\(timestamp).".utf8)
        return prefix.withUnsafeBytes { p in body.withUnsafeBytes { b in HMACKey(Array(secret.utf8)).mac(p, b) } }
    }

    /// Why a signature was refused.
    public enum Rejection: Error, Sendable, Equatable {
        case malformed
        case staleTimestamp
        case mismatch
    }

    /// What a receiver does: checks the header against the raw body with any of `secrets`.
    public static func verify(header value: String, secrets: [String], body: [UInt8], nowSeconds: Int64,
                              tolerance: Int64 = defaultTolerance) -> Result<Int64, Rejection> {
        var timestamp: Int64? = nil
        var signatures: [[UInt8]] = []
        for part in value.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return .failure(.malformed) }
            switch trimOWS(pair[0]) {
            case "t": timestamp = Int64(trimOWS(pair[1]))
            case "v1": if let mac = Hex.decode(String(trimOWS(pair[1]))), mac.count == 32 { signatures.append(mac) }
            default: continue  // future schemes are ignored, not refused
            }
        }
        guard let timestamp, !signatures.isEmpty else { return .failure(.malformed) }
        guard abs(nowSeconds - timestamp) <= tolerance else { return .failure(.staleTimestamp) }
        for secret in secrets {
            let expected = mac(secret: secret, timestamp: timestamp, body: body)
            if signatures.contains(where: { constantTimeEquals($0, expected) }) { return .success(timestamp) }
        }
        return .failure(.mismatch)
    }

    /// A new endpoint secret: `whsec_` and 32 base62 characters (190 bits).
    public static func newSecret() -> String { "whsec_" + Base62.random(32) }

    /// Whether an operator-chosen secret is acceptable: 24 to 256 printable ASCII characters without spaces.
    public static func isAcceptableSecret(_ secret: String) -> Bool {
        let bytes = Array(secret.utf8)
        return (24...256).contains(bytes.count) && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}

/// Exponential back-off with "equal jitter": the n-th retry waits between half and all of
/// `min(cap, base · 2^(n-1))`, so retries from many endpoints that failed together spread out instead of
/// returning in lockstep, while each endpoint still waits at least half the nominal delay.
public struct RetrySchedule: Sendable, Equatable {
    /// The first nominal delay, in milliseconds.
    public var baseMillis: Int64
    /// The largest nominal delay, in milliseconds.
    public var capMillis: Int64

    /// A schedule.
    public init(baseMillis: Int64, capMillis: Int64) {
        self.baseMillis = max(1, baseMillis)
        self.capMillis = max(self.baseMillis, capMillis)
    }

    /// The nominal delay after the `attempt`-th consecutive failure (1-based).
    public func nominalDelayMillis(afterAttempt attempt: Int) -> Int64 {
        let shift = min(max(attempt - 1, 0), 40)
        let (product, overflow) = baseMillis.multipliedReportingOverflow(by: Int64(1) << Int64(shift))
        return overflow ? capMillis : min(capMillis, product)
    }

    /// The delay to wait, with `unit` a uniform random number in [0, 1).
    public func delayMillis(afterAttempt attempt: Int, unit: Double) -> Int64 {
        let nominal = nominalDelayMillis(afterAttempt: attempt)
        let half = nominal / 2
        return half + Int64(Double(nominal - half) * min(max(unit, 0), 0.999_999))
    }
}

/// An endpoint's delivery state, as the endpoint row records it (`attempts`, `dead_lettered_at`).
enum DeliveryState: Sendable, Equatable {
    /// The last delivery (if any) succeeded.
    case healthy
    /// The pending batch failed `attempts` times in a row; another attempt is scheduled.
    case retrying(attempts: Int)
    /// The pending batch failed the maximum number of times: delivery is stopped until redelivery is requested.
    case deadLettered(attempts: Int)

    init(attempts: Int, deadLettered: Bool) {
        if deadLettered { self = .deadLettered(attempts: attempts) }
        else if attempts > 0 { self = .retrying(attempts: attempts) }
        else { self = .healthy }
    }

    /// What to do after a failed attempt.
    enum FailureAction: Sendable, Equatable {
        /// Schedule attempt number `attempts + 1` after the back-off delay.
        case retry(attempts: Int)
        /// Give up on this batch: record a dead letter and stop.
        case deadLetter(attempts: Int)
    }

    /// A batch was delivered.
    mutating func delivered() {
        switch self {
        case .healthy, .retrying: self = .healthy
        case .deadLettered: preconditionFailure("a dead-lettered endpoint is not delivered to")
        }
    }

    /// A batch failed; `maxAttempts` is the number of attempts before it is dead-lettered.
    mutating func failed(maxAttempts: Int) -> FailureAction {
        let attempts: Int
        switch self {
        case .healthy: attempts = 1
        case .retrying(let n): attempts = n + 1
        case .deadLettered: preconditionFailure("a dead-lettered endpoint is not delivered to")
        }
        if attempts >= maxAttempts {
            self = .deadLettered(attempts: attempts)
            return .deadLetter(attempts: attempts)
        }
        self = .retrying(attempts: attempts)
        return .retry(attempts: attempts)
    }

    /// The name the API reports.
    var name: String {
        switch self {
        case .healthy: "active"
        case .retrying: "retrying"
        case .deadLettered: "dead_lettered"
        }
    }

    /// Redelivery was requested: start over with a fresh attempt count.
    mutating func redeliver() { self = .healthy }
}
