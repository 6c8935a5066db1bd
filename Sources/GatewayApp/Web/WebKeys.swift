import Crypto
import HTTPCore
import RegionLink
import WebUI

/// What the web pages share: session keys from the keyring, and whether a cookie may go without `Secure`.
struct WebKeys: Sendable {
    let keyring: @Sendable () -> Keyring

    /// Signing keys, current first: sessions made under a previous pepper stay valid until it is retired.
    var sessionKeys: [HMACKey] {
        let ring = keyring()
        var keys: [HMACKey] = []
        if let current = ring.current(.pepper) { keys.append(WebSession.key(from: current.secret)) }
        for k in ring.keys where k.purpose == .pepper && k.id != ring.current(.pepper)?.id {
            keys.append(WebSession.key(from: k.secret))
        }
        return keys
    }

    var signingKey: HMACKey? { sessionKeys.first }

    /// `Secure` cookies everywhere except plain http from loopback (development): a production page over plain
    /// http then simply cannot keep a session, which is the point.
    static func cookieIsSecure(_ context: RequestContext, _ request: HTTPRequest, trustForwardedProto: Bool) -> Bool {
        if context.isTLS { return true }
        if trustForwardedProto, request.headers["X-Forwarded-Proto"]?.lowercased() == "https" { return true }
        let peer = context.remoteAddress
        let loopback = peer.hasPrefix("127.") || peer == "::1" || peer.hasPrefix("::ffff:127.")
        return !loopback
    }
}
