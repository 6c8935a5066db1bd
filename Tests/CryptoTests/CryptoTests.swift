import Testing
@testable import Crypto

@Suite struct CryptoTests {
    @Test func sha256KnownAnswers() {
        #expect(Hex.encode(SHA256.hash("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hex.encode(SHA256.hash("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// RFC 4231 test case 2.
    @Test func hmacKnownAnswer() {
        let mac = HMAC.sha256(key: Array("Jefe".utf8), message: "what do ya want for nothing?")
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    /// RFC 4231 test case 6: a key longer than the block size is hashed first.
    @Test func hmacWithALongKey() {
        let key = [UInt8](repeating: 0xAA, count: 131)
        let mac = HMAC.sha256(key: key, message: "Test Using Larger Than Block-Size Key - Hash Key First")
        #expect(Hex.encode(mac) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        let precomputed = HMACKey(key)
        #expect(precomputed.mac("Test Using Larger Than Block-Size Key - Hash Key First") == mac)
        #expect(precomputed.mac("x") == HMAC.sha256(key: key, message: "x"))
    }

    @Test func constantTimeComparison() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(constantTimeEquals([], []))
    }

    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")])
    func base64(_ plain: String, _ encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
        #expect(Base64.decode(Base64.encode(Array(plain.utf8), urlSafe: true)) == Array(plain.utf8))
    }

    @Test func base64RejectsJunk() {
        #expect(Base64.decode("Zm9v!") == nil)
        #expect(Base64.decode("Z") == nil)
    }

    @Test func hexRoundTrip() {
        let b: [UInt8] = [0, 1, 0xAB, 0xFF]
        #expect(Hex.encode(b) == "0001abff")
        #expect(Hex.decode("0001ABff") == b)
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test func crc32KnownAnswer() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func randomnessLooksRandom() {
        let a = SecureRandom.bytes(32), b = SecureRandom.bytes(32)
        #expect(a != b)
        let id = SecureRandom.uuid()
        #expect(id.count == 36)
        let parts = id.split(separator: "-")
        #expect(parts.map(\.count) == [8, 4, 4, 4, 12])
        #expect(parts[2].first == "4")
        #expect("89ab".contains(parts[3].first!))
        let token = Base62.random(40)
        #expect(token.count == 40)
        #expect(Base62.isBase62(token[...]))
        #expect(Base62.encode32(0) == "000000")
        #expect(Base62.encode32(61) == "00000z")
    }
}
