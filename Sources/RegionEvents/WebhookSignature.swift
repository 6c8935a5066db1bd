import Crypto
import HTTPCore
import RegionSCIM

/// The signature header on every webhook request, in the style of Stripe's:
///
///     Scim-Gateway-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
///
/// `v1` is hex HMAC-SHA-256, keyed with the endpoint's secret (its UTF-8 bytes), over `"<t>.<raw body>"`.
/// Receivers recompute it over the raw body, compare in constant time, and reject a `t` too far from their clock
/// (5 minutes by default) so a captured request cannot be replayed later; event ids make retries detectable.
/// While a secret is being rotated several `v1=` entries may appear: any one matching is enough.
package enum WebhookSignature {
    /// The header name.
    package static let header = "Scim-Gateway-Signature"
    /// Default replay window for verifiers, in seconds.
    package static let defaultTolerance: Int64 = 300

    /// The header value for `body` sent at `timestamp` (seconds since the epoch).
    package static func sign(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        "t=\(timestamp),v1=" + Hex.encode(mac(secret: secret, timestamp: timestamp, body: body))
    }

    static func mac(secret: String, timestamp: Int64, body: [UInt8]) -> [UInt8] {
        let prefix = Array("\(timestamp).".utf8)
        return prefix.withUnsafeBytes { p in body.withUnsafeBytes { b in HMACKey(Array(secret.utf8)).mac(p, b) } }
    }

    /// Why a signature was refused.
    package enum Rejection: Error, Sendable, Equatable {
        case malformed
        case staleTimestamp
        case mismatch
    }

    /// What a receiver does: checks the header against the raw body with any of `secrets`.
    package static func verify(header value: String, secrets: [String], body: [UInt8], nowSeconds: Int64,
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
    package static func newSecret() -> String { "whsec_" + Base62.random(32) }

    /// Whether an operator-chosen secret is acceptable: 24 to 256 printable ASCII characters without spaces.
    package static func isAcceptableSecret(_ secret: String) -> Bool {
        let bytes = Array(secret.utf8)
        return (24...256).contains(bytes.count) && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
