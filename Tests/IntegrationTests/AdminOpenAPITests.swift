#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

/// The admin API's OpenAPI description is checked against the running server by schemathesis (property-based,
/// from PyPI; `scripts/test.sh` installs it in a cache venv outside the repo and sets SCIM_SCHEMATHESIS). Bounded:
/// 40 s of generated requests, fixed seed. The coverage phase is left out because it probes made-up methods
/// (`QUERY`), which we answer 501 Not Implemented as RFC 9110 §9.1 asks and schemathesis counts as a server error.
@Suite(.serialized) struct AdminOpenAPITests {
    @Test func theServerConformsToItsOpenAPIDescription() throws {
        guard let st = getenv("SCIM_SCHEMATHESIS").map({ String(cString: $0) }), access(st, X_OK) == 0 else {
            Issue.record("schemathesis not installed: run `make test` (scripts/test.sh installs it), or set SCIM_SCHEMATHESIS")
            return
        }
        let d = try Deployment("openapi")
        defer { d.stop() }
        let spec = Deployment.repositoryRoot + "/Sources/GatewayApp/Admin/admin-openapi.yaml"
        // Two runs: the examples phase on one worker, then fuzzing and stateful on two. Example generation parses
        // Python lambdas with `ast`, which is not thread-safe in CPython 3.11 ("SystemError: AST constructor
        // recursion depth mismatch", reported by schemathesis as a Runtime Error / hypothesis FlakyFailure): a tool
        // fault that says nothing about the server, seen about one run in three once the spec grew. Such a run is
        // also repeated once; a failed check never is.
        func run(_ phases: String, workers: Int, seconds: Int) -> (Int32, String) {
            let command = "\(st) run \(spec) --url http://127.0.0.1:\(d.gateways[0].adminPort) "
                + "-H 'Authorization: Bearer \(d.adminToken)' --max-time \(seconds) --seed 1 --workers \(workers) "
                + "--phases \(phases) "
                + "--checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance "
                + "2>&1"
            var (code, output) = runShell(command)
            if code != 0 && output.contains("FlakyFailure") && !output.contains("Failures:") && !output.contains("FAILURES") {
                (code, output) = runShell(command)
            }
            return (code, output)
        }
        let (examplesCode, examplesOutput) = run("examples", workers: 1, seconds: 20)
        #expect(examplesCode == 0, "schemathesis (examples) failed:\n\(examplesOutput.split(separator: "\n").suffix(25).joined(separator: "\n"))")
        let (code, output) = run("fuzzing,stateful", workers: 2, seconds: 40)
        let summary = output.split(separator: "\n").suffix(25).joined(separator: "\n")
        #expect(code == 0, "schemathesis failed:\n\(summary)")
        #expect(output.contains("passed"), "\(summary)")
    }
}
