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

    @Test(arguments: [
        ("{", "Regions/x.json: not valid JSON"),
        ("[]", "Regions/x.json: must be a JSON object"),
        (#"{"publicBaseURL":"https://a"}"#, "Regions/x.json: id is required"),
        (#"{"id":"US","publicBaseURL":"https://a"}"#, "Regions/x.json: id must be 1-16 lowercase letters or digits"),
        (#"{"id":"x","publicBaseURL":"ftp://a"}"#, "Regions/x.json: publicBaseURL must start with https:// or http://"),
        (#"{"id":"x","publicBaseURL":"https://a","publicHosts":"a"}"#, "Regions/x.json: publicHosts must be an array of host names"),
        (#"{"id":"x","publicBaseURL":"https://a","backendURL":"h:1","listen":"a:1"}"#, "Regions/x.json: backendURL must start with http:// or https://"),
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
