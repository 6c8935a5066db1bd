import HTTPCore
@testable import ServerRuntime
import Telemetry
import Testing

/// The request record every server writes, and the request-id rule.
@Suite struct RequestRecordTests {
    @Test func callerRequestIDsAreKeptOnlyWhenShortAndPlain() {
        #expect(RequestID.accept("abc-123_x.y") == "abc-123_x.y")
        for hostile in ["bad id\r\n", String(repeating: "a", count: 65), "quote\"", "é", ""] {
            let generated = RequestID.accept(hostile)
            #expect(generated != hostile)
            #expect(generated.utf8.count >= 17 && generated.utf8.count <= 64)
            #expect(generated.utf8.allSatisfy(RequestID.isPlain))
        }
        #expect(RequestID.accept(nil) != RequestID.accept(nil))
    }

    @Test func durationAndProbesAreRecordedOnFinish() {
        var r = RequestRecord(requestID: "r1", method: .get, route: "/scim/v2/Users/:id", startedAt: 1_000_000_000)
        #expect(r.durationSeconds == 0)
        r.finish(status: 200, now: 1_250_000_000)
        #expect(r.status == 200)
        #expect(r.durationSeconds == 0.25)
        #expect(!r.isProbe)
        #expect(RequestRecord(requestID: "", method: .get, route: "/readyz").isProbe)
    }
}

/// `HTTPResponse(error:)`: the one place Retry-After is decided.
@Suite struct ErrorRenderingTests {
    struct Failure: HTTPResponseError {
        var status: Int
        var retryAfterSeconds: Int? = nil
        var responseHeaders: [(String, String)] = []
        func responseBody(accept: String?) -> (contentType: String, body: [UInt8]) { ("text/plain", Array("no".utf8)) }
    }

    @Test(arguments: [(429, nil, "1"), (503, 7, "7"), (503, 0, "1"), (400, 5, nil), (401, nil, nil)] as [(Int, Int?, String?)])
    func retryAfterOnlyOn429And503(_ status: Int, _ seconds: Int?, _ expected: String?) {
        let response = HTTPResponse(error: Failure(status: status, retryAfterSeconds: seconds))
        #expect(response.status.code == status)
        #expect(response.headers["Retry-After"] == expected)
        #expect(response.headers["Content-Type"] == "text/plain")
        #expect(response.body == Array("no".utf8))
    }

    @Test func extraHeadersAreCarried() {
        let response = HTTPResponse(error: Failure(status: 405, responseHeaders: [("Allow", "GET, POST")]))
        #expect(response.headers["Allow"] == "GET, POST")
    }
}
