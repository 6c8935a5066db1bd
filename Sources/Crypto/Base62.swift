import COpenSSL
import Synchronization

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
        text.utf8.allSatisfy(isDigit)
    }

    /// Whether the byte is one of the 62 digits.
    @inline(__always)
    public static func isDigit(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }
}
