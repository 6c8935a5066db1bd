import COpenSSL
import Synchronization

/// HMAC-SHA-256.
public enum HMAC {
    public static func sha256<K: Collection<UInt8>, M: Collection<UInt8>>(key: K, message: M) -> [UInt8] {
        HMACKey(key).mac(Array(message))
    }

    public static func sha256(key: [UInt8], message: String) -> [UInt8] {
        HMACKey(key).mac(message)
    }
}
