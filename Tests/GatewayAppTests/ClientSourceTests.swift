@testable import GatewayApp
import Testing

@Suite struct ClientSourceTests {
    @Test func withoutTrustedProxiesTheHeaderIsIgnored() {
        let s = ClientSource()
        #expect(s.key(peer: "198.51.100.7", forwardedFor: "203.0.113.9") == "198.51.100.7")
        #expect(s.key(peer: "198.51.100.7", forwardedFor: nil) == "198.51.100.7")
    }

    @Test func aTrustedProxyNamesTheClientRightMostUntrustedHopWins() throws {
        let s = try ClientSource(parsing: "10.0.0.0/8, 192.168.1.7")
        #expect(s.key(peer: "10.1.2.3", forwardedFor: "203.0.113.9") == "203.0.113.9")
        // The left part is whatever the client wrote: never believed.
        #expect(s.key(peer: "10.1.2.3", forwardedFor: "198.51.100.1, 203.0.113.9") == "203.0.113.9")
        // Two of our proxies in a row are skipped.
        #expect(s.key(peer: "10.1.2.3", forwardedFor: "203.0.113.9, 192.168.1.7, 10.9.9.9") == "203.0.113.9")
        // From an untrusted peer the header is ignored (a client cannot pose as someone else).
        #expect(s.key(peer: "203.0.113.50", forwardedFor: "198.51.100.1") == "203.0.113.50")
        // No header, or junk in it: the peer (our proxy) is the source, nothing is invented.
        #expect(s.key(peer: "10.1.2.3", forwardedFor: nil) == "10.1.2.3")
        #expect(s.key(peer: "10.1.2.3", forwardedFor: "unknown") == "10.1.2.3")
        #expect(s.key(peer: "10.1.2.3", forwardedFor: "203.0.113.9, junk") == "10.1.2.3")
        // Every hop trusted: the left-most one.
        #expect(s.key(peer: "10.1.2.3", forwardedFor: "10.4.4.4") == "10.4.4.4")
    }

    @Test func ipv6ClientsAreKeyedByTheirSlash64AndMappedIPv4ByTheAddress() throws {
        let s = try ClientSource(parsing: "fd00::/8")
        #expect(s.key(peer: "2001:db8:1:2::1", forwardedFor: nil) == "2001:db8:1:2::/64")
        #expect(s.key(peer: "2001:db8:1:2:aaaa:bbbb:cccc:dddd", forwardedFor: nil) == "2001:db8:1:2::/64")
        #expect(s.key(peer: "2001:db8:1:3::1", forwardedFor: nil) == "2001:db8:1:3::/64")
        #expect(s.key(peer: "fd00::5", forwardedFor: "2001:db8:0:0:1::9") == "2001:db8:0:0::/64")
        #expect(s.key(peer: "::ffff:198.51.100.7", forwardedFor: nil) == "198.51.100.7")
    }

    @Test func networksParseAndMatchByPrefix() throws {
        let n = try ClientSource.network("10.128.0.0/9")
        #expect(n.contains(ClientSource.address("10.200.1.1")!))
        #expect(!n.contains(ClientSource.address("10.1.1.1")!))
        #expect(!n.contains(ClientSource.address("fd00::1")!))
        #expect(try ClientSource.network("0.0.0.0/0").contains(ClientSource.address("8.8.8.8")!))
        #expect(try ClientSource.network("2001:db8::/32").contains(ClientSource.address("2001:db8:ffff::1")!))
        #expect(try ClientSource(parsing: "").trustedProxies.isEmpty)
        for bad in ["10.0.0.0/33", "fd00::/129", "example.com", "10.0.0/8", "10.0.0.0/x", "/8"] {
            #expect(throws: ClientSource.InvalidNetwork.self, "\(bad)") { try ClientSource.network(bad) }
        }
    }
}
