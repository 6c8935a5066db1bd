import Testing
@testable import ServerRuntime

@Suite struct RegionConfigurationTests {
    let valid = """
        {"id":"ap1","publicBaseURL":"https://ap1-api.example.com/scim/v2/","publicHosts":["AP1-api.example.com"],
         "backendURL":"http://10.0.0.5:8083","listen":"0.0.0.0:8083",
         "database":{"url":"postgresql://scim@db/scim_ap1","urlEnv":"SCIM_AP1_DATABASE_URL","maxConnections":8}}
        """

    @Test func parsesAValidFile() throws {
        let r = try RegionConfiguration.parse(Array(valid.utf8), source: "Regions/ap1.json")
        #expect(r.id == "ap1")
        #expect(r.displayName == "ap1")
        #expect(r.publicBaseURL == "https://ap1-api.example.com/scim/v2")
        #expect(r.publicHosts == ["ap1-api.example.com"])
        #expect(r.databaseMaxConnections == 8)
        #expect(r.databaseURLEnv == "SCIM_AP1_DATABASE_URL")
    }

    @Test func aRegionMayListSeveralReplicas() throws {
        let text = """
            {"id":"us","publicBaseURL":"https://api.example.com/scim/v2","backendURL":"http://10.0.0.5:8081",
             "backendURLs":["http://10.0.0.6:8081","dns+http://region-us.internal:8081","http://[fd00::7]:8081"],
             "listen":"0.0.0.0:8081","database":{"url":"postgresql://scim@db1:5432,db2:5432/scim_us?target_session_attrs=read-write"}}
            """
        let r = try RegionConfiguration.parse(Array(text.utf8), source: "Regions/us.json")
        #expect(r.backends == [RegionBackend(host: "10.0.0.5", port: 8081), RegionBackend(host: "10.0.0.6", port: 8081),
                               RegionBackend(host: "region-us.internal", port: 8081, resolvesAll: true),
                               RegionBackend(host: "fd00::7", port: 8081)])
        #expect(r.backendURL == "http://10.0.0.5:8081")
        #expect(r.databaseURL.contains("db1:5432,db2:5432"))
        // backendURLs alone is enough.
        let only = try RegionConfiguration.parse(
            Array(#"{"id":"us","publicBaseURL":"https://a","backendURLs":["http://h:1","http://h:2"],"listen":"a:1","database":{"url":"postgresql://h/d"}}"#.utf8),
            source: "Regions/us.json")
        #expect(only.backends.map(\.authority) == ["h:1", "h:2"])
        // backendURL repeated in the full list is one replica (docker/regions-ha writes it so).
        let both = try RegionConfiguration.parse(
            Array(#"{"id":"us","publicBaseURL":"https://a","backendURL":"http://h:1","backendURLs":["http://h:1","http://h:2"],"listen":"a:1","database":{"url":"postgresql://h/d"}}"#.utf8),
            source: "Regions/us.json")
        #expect(both.backends.map(\.authority) == ["h:1", "h:2"])
    }

    @Test(arguments: [
        ("{", "Regions/x.json: not valid JSON"),
        ("[]", "Regions/x.json: must be a JSON object"),
        (#"{"publicBaseURL":"https://a"}"#, "Regions/x.json: id is required"),
        (#"{"id":"US","publicBaseURL":"https://a"}"#, "Regions/x.json: id must be 1-16 lowercase letters or digits"),
        (#"{"id":"x","publicBaseURL":"ftp://a"}"#, "Regions/x.json: publicBaseURL must start with https:// or http://"),
        (#"{"id":"x","publicBaseURL":"https://a","publicHosts":"a"}"#, "Regions/x.json: publicHosts must be an array of host names"),
        (#"{"id":"x","publicBaseURL":"https://a","backendURL":"h:1","listen":"a:1"}"#, "Regions/x.json: backendURL must be http://host:port or dns+http://name:port"),
        (#"{"id":"x","publicBaseURL":"https://a","backendURL":"https://h:1","listen":"a:1"}"#, "Regions/x.json: backendURL must be http://host:port or dns+http://name:port"),
        (#"{"id":"x","publicBaseURL":"https://a","listen":"a:1"}"#, "Regions/x.json: backendURL is required (or backendURLs)"),
        (#"{"id":"x","publicBaseURL":"https://a","backendURLs":[],"listen":"a:1"}"#, "Regions/x.json: backendURLs must be a non-empty array of URLs"),
        (#"{"id":"x","publicBaseURL":"https://a","backendURLs":"http://h:1","listen":"a:1"}"#, "Regions/x.json: backendURLs must be a non-empty array of URLs"),
        (#"{"id":"x","publicBaseURL":"https://a","backendURLs":["http://h:1","h2:2"],"listen":"a:1"}"#, "Regions/x.json: backendURLs entry 'h2:2' must be http://host:port"),
        (#"{"id":"x","publicBaseURL":"https://a","backendURLs":["http://h:1","http://h:1/"],"listen":"a:1"}"#, "Regions/x.json: backendURLs lists http://h:1 twice"),
        (#"{"id":"x","publicBaseURL":"https://a","backendURL":"http://h:1","listen":"a:1"}"#, "Regions/x.json: database is required (an object with url)"),
        (#"{"id":"x","publicBaseURL":"https://a","backendURL":"http://h:1","listen":"a:1","database":{"url":"mysql://"}}"#, "Regions/x.json: database.url must be a postgresql:// URL"),
        (#"{"id":"x","publicBaseURL":"https://a","backendURL":"http://h:1","listen":"a:1","database":{"url":"postgresql://h/d","maxConnections":0}}"#, "Regions/x.json: database.maxConnections must be an integer 1-1000"),
    ])
    func errorsNameFileAndField(_ text: String, _ prefix: String) {
        do {
            _ = try RegionConfiguration.parse(Array(text.utf8), source: "Regions/x.json")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix(prefix), "\(error.description)")
        }
    }

    @Test func theShippedRegionsLoad() throws {
        let dir = String(#filePath.split(separator: "/Tests/").first!) + "/Regions"
        let regions = try RegionConfiguration.loadAll(directory: "/" + dir.drop(while: { $0 == "/" }))
        #expect(regions.map(\.id) == ["eu2", "us"])
        #expect(try RegionConfiguration.load(directory: "/" + dir.drop(while: { $0 == "/" }), id: "us").publicHosts == ["api.example.com"])
    }
}

@Suite struct RegionBackendTests {
    @Test(arguments: [
        ("http://127.0.0.1:8081", RegionBackend?.some(RegionBackend(host: "127.0.0.1", port: 8081))),
        ("http://region-us:80/", RegionBackend(host: "region-us", port: 80)),
        ("http://h", RegionBackend(host: "h", port: 80)),
        ("http://[::1]:9000", RegionBackend(host: "::1", port: 9000)),
        ("dns+http://region-us.svc:8081", RegionBackend(host: "region-us.svc", port: 8081, resolvesAll: true)),
        ("https://h:1", nil), ("h:1", nil), ("http://h:0", nil), ("http://h:70000", nil), ("http://h:x", nil),
        ("http://", nil), ("http://h:1/scim", nil), ("http://u@h:1", nil), ("dns+https://h:1", nil), ("http://[::1", nil),
        ("http://a:1|http://b:2", nil), ("http://a:1,b:2", nil),
    ])
    func parses(_ text: String, _ expected: RegionBackend?) {
        #expect(RegionBackend.parse(text) == expected)
    }

    @Test func printsAsItParses() {
        for text in ["http://10.0.0.1:8081", "dns+http://region-us:8081", "http://[fd00::1]:8081"] {
            #expect(RegionBackend.parse(text)?.description == text)
        }
        #expect(RegionBackend(host: "fd00::1", port: 1).authority == "[fd00::1]:1")
    }
}
