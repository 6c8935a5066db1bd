public import HTTPCore
import Crypto
import Synchronization

/// HMAC-SHA-256 over method, target, the signed headers and the body digest.
public enum LinkSignature {
    public static let version = "scim-link-1"

    /// The exact bytes that are MACed.
    public static func canonical(method: String, target: String, headers: HTTPHeaders, body: [UInt8]) -> [UInt8] {
        var text = version + "\n" + method + "\n" + target + "\n"
        for name in LinkHeader.signed {
            text += (headers[name] ?? "") + "\n"
        }
        text += Hex.encode(SHA256.hash(body))
        return Array(text.utf8)
    }

    /// Adds the link headers and the signature to a request about to be forwarded.
    public static func sign(_ request: inout HTTPRequest, tenant: String, baseURL: String, requestID: String,
                            key: Key, nowSeconds: Int) {
        for name in LinkHeader.signed + [LinkHeader.signature] { request.headers.remove(name) }
        request.headers.add(LinkHeader.tenant, tenant)
        request.headers.add(LinkHeader.baseURL, baseURL)
        request.headers.add(LinkHeader.requestID, requestID)
        request.headers.add(LinkHeader.timestamp, String(nowSeconds))
        request.headers.add(LinkHeader.nonce, UniqueID.next())
        request.headers.add(LinkHeader.keyID, key.id)
        let mac = key.mac.mac(canonical(method: request.method.description, target: request.target,
                                        headers: request.headers, body: request.body))
        request.headers.add(LinkHeader.signature, Hex.encode(mac))
    }
}
