import COpenSSL
import Synchronization

/// SHA-256 (OpenSSL's low-level interface: no per-call algorithm lookup).
public enum SHA256 {
    public static func hash<Bytes: Collection<UInt8>>(_ data: Bytes) -> [UInt8] {
        var ctx = SHA256_CTX()
        copenssl_sha256_init(&ctx)
        let done: Bool? = data.withContiguousStorageIfAvailable { buffer in
            copenssl_sha256_update(&ctx, buffer.baseAddress, buffer.count)
            return true
        }
        if done == nil {
            let copy = Array(data)
            copy.withUnsafeBufferPointer { copenssl_sha256_update(&ctx, $0.baseAddress, $0.count) }
        }
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { copenssl_sha256_final(&ctx, $0.baseAddress) }
        return digest
    }

    public static func hash(_ text: String) -> [UInt8] {
        var copy = text
        return copy.withUTF8 { hash($0) }
    }
}

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

/// HMAC-SHA-256.
public enum HMAC {
    public static func sha256<K: Collection<UInt8>, M: Collection<UInt8>>(key: K, message: M) -> [UInt8] {
        HMACKey(key).mac(Array(message))
    }

    public static func sha256(key: [UInt8], message: String) -> [UInt8] {
        HMACKey(key).mac(message)
    }
}

/// Cryptographically secure random bytes (OpenSSL's CSPRNG, seeded by the kernel).
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let rc = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        precondition(rc == 1, "RAND_bytes failed: no secure randomness available")
        return out
    }

    /// A random RFC 4122 version 4 UUID in lowercase text form.
    public static func uuid() -> String {
        var b = bytes(16)
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        let hex = Hex.encode(b)
        let chars = Array(hex)
        return String(chars[0..<8]) + "-" + String(chars[8..<12]) + "-" + String(chars[12..<16]) + "-"
            + String(chars[16..<20]) + "-" + String(chars[20..<32])
    }
}

/// Compares secrets without leaking where they differ through timing (CRYPTO_memcmp).
/// Lengths are not secret here (all our digests are 32 bytes); a length mismatch returns false at once.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { pa in
        b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, pa.count) == 0 }
    }
}

/// Lowercase hexadecimal.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        encode(Array(bytes))
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            for (i, b) in bytes.enumerated() {
                out[2 * i] = digits[Int(b >> 4)]
                out[2 * i + 1] = digits[Int(b & 0x0F)]
            }
            return bytes.count * 2
        }
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let h = value(chars[i]), let l = value(chars[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}

/// Base64 (RFC 4648 §4) and base64url without padding (§5).
public enum Base64 {
    private static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlSafe = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8], urlSafe url: Bool = false) -> String {
        let table = url ? urlSafe : standard
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(table[Int(n >> 18 & 63)]); out.append(table[Int(n >> 12 & 63)])
            out.append(table[Int(n >> 6 & 63)]); out.append(table[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            var n = UInt32(bytes[i]) << 16
            if rest == 2 { n |= UInt32(bytes[i + 1]) << 8 }
            out.append(table[Int(n >> 18 & 63)]); out.append(table[Int(n >> 12 & 63)])
            if rest == 2 { out.append(table[Int(n >> 6 & 63)]) }
            if !url { out.append(contentsOf: Array(repeating: UInt8(ascii: "="), count: 3 - rest)) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes either alphabet, with or without padding; nil on any other character.
    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        for c in text.utf8 {
            switch c {
            case 0x41...0x5A: values.append(c - 0x41)
            case 0x61...0x7A: values.append(c - 0x61 + 26)
            case 0x30...0x39: values.append(c - 0x30 + 52)
            case 0x2B, 0x2D: values.append(62)
            case 0x2F, 0x5F: values.append(63)
            case 0x3D: continue
            default: return nil
            }
        }
        if values.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < values.count {
            let chunk = values[i..<min(i + 4, values.count)]
            var n: UInt32 = 0
            for (k, v) in chunk.enumerated() { n |= UInt32(v) << (18 - 6 * UInt32(k)) }
            out.append(UInt8(n >> 16 & 0xFF))
            if chunk.count > 2 { out.append(UInt8(n >> 8 & 0xFF)) }
            if chunk.count > 3 { out.append(UInt8(n & 0xFF)) }
            i += 4
        }
        return out
    }
}

/// CRC-32 (IEEE 802.3), for token checksums that reject typos without a database lookup.
public enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt32 {
        // Contiguous input (arrays, slices, native strings' UTF-8) takes the buffer loop; a generic iterator across
        // module boundaries costs several times more per byte.
        if let crc = bytes.withContiguousStorageIfAvailable({ checksum(buffer: $0) }) { return crc }
        return Array(bytes).withUnsafeBufferPointer { checksum(buffer: $0) }
    }

    public static func checksum(buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in buffer { crc = t[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}

/// Base62 (0-9A-Za-z): what our token ids and secrets are written in (no punctuation to confuse copy-paste).
public enum Base62 {
    public static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// `count` uniformly random base62 characters (rejection sampling: no modulo bias).
    public static func random(_ count: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            for b in SecureRandom.bytes(count * 2) where b < 248 {
                out.append(alphabet[Int(b % 62)])
                if out.count == count { break }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Fixed-width base62 of a 32-bit value (6 characters).
    public static func encode32(_ value: UInt32) -> String {
        var v = value
        var out = [UInt8](repeating: alphabet[0], count: 6)
        for i in stride(from: 5, through: 0, by: -1) {
            out[i] = alphabet[Int(v % 62)]
            v /= 62
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func isBase62(_ text: Substring) -> Bool {
        text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
    }
}

/// Identifiers that must be unique but not secret (request ids, signature nonces): a random per-process prefix
/// plus a counter. One random draw per process instead of one per request.
public enum UniqueID {
    private static let prefix = Base62.random(16)
    private static let counter = Atomic<UInt64>(0)

    public static func next() -> String {
        prefix + String(counter.add(1, ordering: .relaxed).newValue, radix: 36)
    }
}
