import COpenSSL

/// AES-256-GCM (OpenSSL EVP) for small secrets at rest, e.g. webhook signing secrets in a region database.
///
/// Sealed form: `0x01 ‖ nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes)`. The associated data (not stored) binds
/// a sealed value to where it belongs — a row copied to another tenant no longer opens. Random 96-bit nonces are
/// safe for far more than the 2^32 messages per key that NIST allows here (a handful per tenant and rotation).
public enum SecretBox {
    static let version: UInt8 = 1
    static let nonceSize = 12
    static let tagSize = 16
    /// AES-256 key length.
    public static let keySize = 32

    /// Encrypts and authenticates `plaintext`; `key` must be 32 bytes.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8]) -> [UInt8] {
        precondition(key.count == keySize, "AES-256 needs a 32-byte key")
        let nonce = SecureRandom.bytes(nonceSize)
        guard let ctx = EVP_CIPHER_CTX_new() else { fatalError("EVP_CIPHER_CTX_new failed: out of memory") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 16)
        var tag = [UInt8](repeating: 0, count: tagSize)
        var written: Int32 = 0, total = 0
        var ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1
        if ok && !associatedData.isEmpty {
            ok = EVP_EncryptUpdate(ctx, nil, &written, associatedData, Int32(associatedData.count)) == 1
        }
        if ok && !plaintext.isEmpty {
            ok = ciphertext.withUnsafeMutableBufferPointer { out in
                EVP_EncryptUpdate(ctx, out.baseAddress, &written, plaintext, Int32(plaintext.count)) == 1
            }
            total = Int(written)
        }
        if ok {
            ok = ciphertext.withUnsafeMutableBufferPointer { out in
                EVP_EncryptFinal_ex(ctx, out.baseAddress! + total, &written) == 1
            }
            total += Int(written)
        }
        if ok { ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagSize), &tag) == 1 }
        // Encryption with a valid key cannot fail short of memory exhaustion; never return an unsealed value.
        precondition(ok, "AES-256-GCM encryption failed")
        return [version] + nonce + ciphertext[0..<total] + tag
    }

    /// Decrypts a sealed value; nil when it was not sealed with this key and associated data (or was altered).
    public static func open(_ sealed: [UInt8], key: [UInt8], associatedData: [UInt8]) -> [UInt8]? {
        guard key.count == keySize, sealed.count >= 1 + nonceSize + tagSize, sealed[0] == version else { return nil }
        let nonce = Array(sealed[1..<(1 + nonceSize)])
        let ciphertext = Array(sealed[(1 + nonceSize)..<(sealed.count - tagSize)])
        var tag = Array(sealed[(sealed.count - tagSize)...])
        guard let ctx = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var written: Int32 = 0, total = 0
        guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1 else { return nil }
        if !associatedData.isEmpty {
            guard EVP_DecryptUpdate(ctx, nil, &written, associatedData, Int32(associatedData.count)) == 1 else { return nil }
        }
        if !ciphertext.isEmpty {
            let ok = plaintext.withUnsafeMutableBufferPointer { out in
                EVP_DecryptUpdate(ctx, out.baseAddress, &written, ciphertext, Int32(ciphertext.count)) == 1
            }
            guard ok else { return nil }
            total = Int(written)
        }
        guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagSize), &tag) == 1 else { return nil }
        // Final verifies the tag: any change to nonce, ciphertext, tag or associated data fails here.
        let verified = plaintext.withUnsafeMutableBufferPointer { out in
            EVP_DecryptFinal_ex(ctx, out.baseAddress! + total, &written) == 1
        }
        guard verified else { return nil }
        total += Int(written)
        return Array(plaintext[0..<total])
    }
}
