import Crypto
import Testing

@Suite struct SecretBoxTests {
    let key = (0..<32).map { UInt8($0) }
    let aad = Array("webhook-secret\ntenant-a".utf8)

    @Test func sealedValuesOpenWithTheSameKeyAndAssociatedDataOnly() throws {
        let secret = Array("whsec_0123456789abcdefghijABCDEFGHIJ".utf8)
        let sealed = SecretBox.seal(secret, key: key, associatedData: aad)
        #expect(sealed.count == 1 + 12 + secret.count + 16)
        #expect(sealed[0] == 1)
        #expect(SecretBox.open(sealed, key: key, associatedData: aad) == secret)
        // A fresh nonce every time: the same secret never seals to the same bytes.
        #expect(SecretBox.seal(secret, key: key, associatedData: aad) != sealed)
        #expect(SecretBox.open(sealed, key: key, associatedData: Array("webhook-secret\ntenant-b".utf8)) == nil)
        #expect(SecretBox.open(sealed, key: Array(repeating: 0, count: 32), associatedData: aad) == nil)
        #expect(SecretBox.open(sealed, key: Array(key.prefix(16)), associatedData: aad) == nil)
        // Any flipped bit anywhere (version, nonce, ciphertext, tag) is refused.
        for index in sealed.indices {
            var tampered = sealed
            tampered[index] ^= 0x01
            #expect(SecretBox.open(tampered, key: key, associatedData: aad) == nil, "byte \(index)")
        }
        #expect(SecretBox.open(Array(sealed.dropLast()), key: key, associatedData: aad) == nil)
        #expect(SecretBox.open([], key: key, associatedData: aad) == nil)
        let empty = SecretBox.seal([], key: key, associatedData: [])
        #expect(SecretBox.open(empty, key: key, associatedData: []) == [])
    }

    /// McGrew & Viega, "The Galois/Counter Mode of Operation", test case 14 (AES-256, zero key and IV, one zero block).
    @Test func knownAnswerFromTheGCMSpecification() throws {
        let ciphertext = try #require(Hex.decode("cea7403d4d606b6e074ec5d3baf39d18"))
        let tag = try #require(Hex.decode("d0d1c8a799996bf0265b98b5d48ab919"))
        let sealed = [UInt8(1)] + Array(repeating: 0, count: 12) + ciphertext + tag
        #expect(SecretBox.open(sealed, key: Array(repeating: 0, count: 32), associatedData: []) == Array(repeating: 0, count: 16))
    }
}
