import Testing
@testable import GatewayApp

@Suite struct PublicHostTests {
    @Test func caseTrailingDotsAndPortsDoNotMakeAnotherHost() {
        #expect(PublicHost.canonical("API.Example.COM")! == ("api.example.com", "api.example.com"))
        #expect(PublicHost.canonical("api.example.com.")! == ("api.example.com", "api.example.com"))
        #expect(PublicHost.canonical("Api.Example.Com.:443")! == ("api.example.com:443", "api.example.com"))
        #expect(PublicHost.canonical("[::1]:8080")! == ("[::1]:8080", "[::1]"))
        #expect(PublicHost.canonical("[::1]")! == ("[::1]", "[::1]"))
        for junk in [nil, "", " api.example.com", "api.example.com:", "api.example.com:x", "a/b", "user@host", "[::1", "[::1]x",
                     ".", String(repeating: "a", count: 300)] as [String?] {
            #expect(PublicHost.canonical(junk) == nil, "\(junk ?? "nil")")
        }
    }
}
