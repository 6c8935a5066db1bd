import Testing
import HTTPCore
@testable import RegionLink
import Crypto

@Suite struct KeyringTests {
    let secretA = Base64.encode([UInt8](repeating: 7, count: 32))
    let secretB = Base64.encode([UInt8](repeating: 9, count: 32))

    @Test func parsesAndRoundTrips() throws {
        let ring = try Keyring(text: """
            # comment
            link l2 \(secretA) current
            link l1 \(secretB) previous   # trailing comment

            pepper p1 \(secretA) current
            """)
        #expect(ring.current(.link)?.id == "l2")
        #expect(ring.key(.link, id: "l1")?.state == .previous)
        #expect(ring.current(.pepper)?.secret == [UInt8](repeating: 7, count: 32))
        #expect(try Keyring(text: ring.text) == ring)
        #expect(!ring.current(.link)!.description.contains(secretA))
    }

    @Test(arguments: [
        ("link l1 abc current", "keyring: line 1: secret must be base64 of at least 32 bytes"),
        ("link l1 SECRET", "keyring: line 1: expected 'purpose id secret state'"),
        ("token l1 SECRET current", "keyring: line 1: purpose must be 'link', 'pepper' or 'webhook'"),
        ("link l1 SECRET latest", "keyring: line 1: state must be current, previous or next"),
        ("link l/1 SECRET current", "keyring: line 1: key id must be 1-64 characters of [A-Za-z0-9._-]"),
        ("link l1 SECRET current\nlink l1 SECRET previous", "keyring: line 2: duplicate link key id l1"),
        ("link l1 SECRET current\nlink l2 SECRET current", "keyring: more than one current link key"),
    ])
    func rejectsBadLinesWithoutEchoingSecrets(_ text: String, _ message: String) {
        let filled = text.split(separator: "SECRET", omittingEmptySubsequences: false).joined(separator: secretA)
        do {
            _ = try Keyring(text: filled)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == message)
            #expect(!error.description.contains(secretA))
        }
    }
}

@Suite struct LinkSignatureTests {
    let current = Key(purpose: .link, id: "l2", secret: [UInt8](repeating: 1, count: 32), state: .current)
    let previous = Key(purpose: .link, id: "l1", secret: [UInt8](repeating: 2, count: 32), state: .previous)

    func signed(_ key: Key, now: Int = 1_000_000, body: String = "{\"userName\":\"a\"}") -> HTTPRequest {
        var r = HTTPRequest(method: .post, target: "/scim/v2/Users?x=1", headers: ["Host": "region"], body: Array(body.utf8))
        LinkSignature.sign(&r, tenant: "t-1", baseURL: "https://api.example.com/scim/v2", requestID: "req-1", key: key, nowSeconds: now)
        return r
    }

    @Test func acceptsCurrentAndPreviousKeys() {
        let verifier = LinkVerifier(keyring: Keyring(keys: [current, previous]))
        let ok = verifier.verify(signed(current), nowSeconds: 1_000_010)
        #expect(ok == .success(LinkContext(tenant: "t-1", baseURL: "https://api.example.com/scim/v2", requestID: "req-1", keyID: "l2")))
        guard case .success = verifier.verify(signed(previous), nowSeconds: 1_000_000) else { Issue.record("previous key refused"); return }
    }

    @Test func everySignedPartIsCovered() {
        let verifier = LinkVerifier(keyring: Keyring(keys: [current]))
        var tampered = [HTTPRequest]()
        var r = signed(current); r.headers.set(LinkHeader.tenant, "t-2"); tampered.append(r)
        r = signed(current); r.headers.set(LinkHeader.baseURL, "https://evil/scim/v2"); tampered.append(r)
        r = signed(current); r.target = "/scim/v2/Users/other"; tampered.append(r)
        r = signed(current); r.method = .delete; tampered.append(r)
        r = signed(current); r.body = Array("{\"userName\":\"b\"}".utf8); tampered.append(r)
        r = signed(current); r.headers.set(LinkHeader.requestID, "req-2"); tampered.append(r)
        for t in tampered { #expect(verifier.verify(t, nowSeconds: 1_000_000) == .failure(.badSignature)) }
    }

    @Test func rejectsUnknownKeysStaleAndReplayedRequests() {
        let verifier = LinkVerifier(keyring: Keyring(keys: [current]), windowSeconds: 60)
        #expect(verifier.verify(signed(previous), nowSeconds: 1_000_000) == .failure(.unknownKey))
        #expect(verifier.verify(signed(current, now: 1_000_000), nowSeconds: 1_000_061) == .failure(.stale))
        #expect(verifier.verify(signed(current, now: 1_000_000), nowSeconds: 999_939) == .failure(.stale))
        let once = signed(current)
        guard case .success = verifier.verify(once, nowSeconds: 1_000_000) else { Issue.record("first use refused"); return }
        #expect(verifier.verify(once, nowSeconds: 1_000_001) == .failure(.replayed))
        #expect(verifier.verify(HTTPRequest(method: .get, target: "/"), nowSeconds: 0) == .failure(.unsigned))
        var junk = signed(current); junk.headers.set(LinkHeader.signature, "zz")
        #expect(verifier.verify(junk, nowSeconds: 1_000_000) == .failure(.malformed))
    }

    @Test func keyringUpdateTakesEffect() {
        let verifier = LinkVerifier(keyring: Keyring(keys: [previous]))
        #expect(verifier.verify(signed(current), nowSeconds: 1_000_000) == .failure(.unknownKey))
        verifier.update(Keyring(keys: [current, previous]))
        guard case .success = verifier.verify(signed(current), nowSeconds: 1_000_000) else { Issue.record("update ignored"); return }
    }

    @Test func nonceCacheExpires() {
        var cache = NonceCache()
        let first = cache.insert("a", expires: 10, now: 0)
        let replay = cache.insert("a", expires: 10, now: 5)
        let afterExpiry = cache.insert("a", expires: 20, now: 11)
        #expect(first)
        #expect(!replay)
        #expect(afterExpiry)
    }
}
