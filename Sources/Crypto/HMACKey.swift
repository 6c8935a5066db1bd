import COpenSSL
import Synchronization

/// An HMAC-SHA-256 key with its inner and outer pads already absorbed (RFC 2104), so each MAC costs two
/// compression runs plus the message: signing every forwarded request and checking every token stays cheap.
public struct HMACKey: Sendable {
    private let inner: SHA256_CTX
    private let outer: SHA256_CTX

    public init<K: Collection<UInt8>>(_ key: K) {
        var block = [UInt8](repeating: 0, count: 64)
        if key.count > 64 {
            let digest = SHA256.hash(key)
            block.replaceSubrange(0..<32, with: digest)
        } else {
            block.replaceSubrange(0..<key.count, with: key)
        }
        var i = SHA256_CTX(), o = SHA256_CTX()
        copenssl_sha256_init(&i)
        copenssl_sha256_init(&o)
        let ipad = block.map { $0 ^ 0x36 }, opad = block.map { $0 ^ 0x5C }
        ipad.withUnsafeBufferPointer { copenssl_sha256_update(&i, $0.baseAddress, 64) }
        opad.withUnsafeBufferPointer { copenssl_sha256_update(&o, $0.baseAddress, 64) }
        inner = i
        outer = o
    }

    /// The MAC of the concatenation of `parts`.
    public func mac(_ parts: UnsafeRawBufferPointer...) -> [UInt8] {
        var i = inner
        for part in parts where part.count > 0 { copenssl_sha256_update(&i, part.baseAddress, part.count) }
        var innerDigest = [UInt8](repeating: 0, count: 32)
        innerDigest.withUnsafeMutableBufferPointer { copenssl_sha256_final(&i, $0.baseAddress) }
        var o = outer
        innerDigest.withUnsafeBufferPointer { copenssl_sha256_update(&o, $0.baseAddress, 32) }
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { copenssl_sha256_final(&o, $0.baseAddress) }
        return out
    }

    public func mac(_ message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { mac($0) }
    }

    public func mac(_ message: String) -> [UInt8] {
        var copy = message
        return copy.withUTF8 { mac(UnsafeRawBufferPointer($0)) }
    }
}
