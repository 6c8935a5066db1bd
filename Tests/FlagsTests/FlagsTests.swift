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

    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)), ("10s", .seconds(10)), ("15m", .seconds(900)), ("1h", .seconds(3600)),
        ("14d", .seconds(14 * 86_400)), ("30", .seconds(30)), ("0", .zero),
    ])
    func durationsParse(_ text: String, _ expected: Duration) {
        #expect(Duration.parse(text) == expected)
    }

    @Test(arguments: ["-1s", "soon", "", "1.5s", "10 s", "99999999999999999999d", "9223372036854775807s"])
    func durationsRefused(_ text: String) {
        #expect(Duration.parse(text) == nil)
    }

    @Test func durationOptionsCheckTheirRange() throws {
        let spec = CommandLineSpec(command: "t", summary: "t", options: [.value("timeout", help: "t")])
        #expect(try spec.parse(["--timeout", "250ms"]).duration("timeout", in: .milliseconds(100)...(.seconds(60))) == .milliseconds(250))
        #expect(try spec.parse([]).duration("timeout", in: .zero...(.seconds(1))) == nil)
        #expect(throws: UsageError("option --timeout must be between 100ms and 1m")) {
            try spec.parse(["--timeout", "2m"]).duration("timeout", in: .milliseconds(100)...(.seconds(60)))
        }
        #expect(throws: UsageError("option --timeout expects a duration such as 500ms, 10s, 15m, 1h or 14d, got 'x'")) {
            try spec.parse(["--timeout", "x"]).duration("timeout", in: .zero...(.seconds(1)))
        }
    }
}
