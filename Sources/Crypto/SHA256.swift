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

/// Compares secrets without leaking where they differ through timing (CRYPTO_memcmp).
/// Lengths are not secret here (all our digests are 32 bytes); a length mismatch returns false at once.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { pa in
        b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, pa.count) == 0 }
    }
}
