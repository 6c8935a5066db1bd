import Testing
@testable import Flags

@Suite struct FlagsTests {
    let spec = CommandLineSpec(command: "scim-region", summary: "test", options: [
        .value("port", "port", env: "SCIM_PORT", default: "8080", help: "Port"),
        .value("region", help: "Region id"),
        .value("token", env: "SCIM_TOKEN", default: "s3cret", secret: true, help: "Token"),
        .flag("verbose", env: "SCIM_VERBOSE", help: "More logs"),
    ])

    @Test func valuesFromFlagsEnvAndDefaults() throws {
        let p = try spec.parse(["--region", "eu2", "--verbose", "pos"], environment: ["SCIM_PORT": "9000"])
        #expect(p.string("region") == "eu2")
        #expect(try p.int("port") == 9000)
        #expect(p.bool("verbose"))
        #expect(p.positionals == ["pos"])
        let q = try spec.parse(["--port=7"], environment: ["SCIM_VERBOSE": "1"])
        #expect(try q.int("port") == 7)
        #expect(q.bool("verbose"))
        #expect(q.string("region") == nil)
    }

    @Test(arguments: [
        (["--nope"], "unknown option '--nope'"),
        (["-x"], "unknown option '-x'"),
        (["--region"], "option --region needs a value"),
        (["--verbose=maybe"], "option --verbose expects true or false"),
    ])
    func usageErrors(_ args: [String], _ message: String) {
        #expect(throws: UsageError(message)) { try spec.parse(args) }
    }

    @Test func intValidation() throws {
        let p = try spec.parse(["--port", "abc"])
        #expect(throws: UsageError("option --port expects an integer, got 'abc'")) { try p.int("port") }
        let q = try spec.parse(["--port", "70000"])
        #expect(throws: UsageError("option --port must be between 0 and 65535")) { try q.int("port", in: 0...65535) }
    }

    @Test func helpListsOptionsAndHidesSecretDefaults() throws {
        #expect(try spec.parse(["-h"]).helpRequested)
        let help = spec.helpText
        #expect(help.contains("--port <port>"))
        #expect(help.contains("(env SCIM_PORT; default 8080)"))
        #expect(help.contains("(env SCIM_TOKEN)"))
        #expect(!help.contains("s3cret"))
    }

    @Test func doubleDashEndsOptions() throws {
        #expect(try spec.parse(["--", "--port"]).positionals == ["--port"])
    }
}
