import Testing
@testable import Telemetry

@Suite struct TimestampTests {
    @Test(arguments: [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (784111777, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (951782400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (1795392000, "Mon, 23 Nov 2026 00:00:00 GMT"),
        (4102444799, "Thu, 31 Dec 2099 23:59:59 GMT"),
    ])
    func imfFixdate(seconds: Int, expected: String) {
        #expect(Timestamp.imfFixdate(epochSeconds: seconds) == expected)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(951_782_400_123), "2000-02-29T00:00:00.123Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
    ])
    func iso8601(millis: Int64, expected: String) {
        #expect(Timestamp.iso8601(epochMillis: millis) == expected)
    }
}

@Suite struct LoggerTests {
    @Test func writesOneEscapedJSONLinePerMessage() {
        let sink = LogSink.memory()
        let logger = Logger(label: "test", level: .info, sink: sink).with("region", "us")
        logger.debug("hidden")
        logger.info("hello \"world\"\n", [("request.id", "r1"), ("status", 200)])
        #expect(sink.lines.count == 1)
        let line = sink.lines[0]
        #expect(line.hasSuffix("\"level\":\"info\",\"logger\":\"test\",\"msg\":\"hello \\\"world\\\"\\n\",\"region\":\"us\",\"request.id\":\"r1\",\"status\":200}\n"))
        #expect(line.hasPrefix("{\"ts\":\""))
    }

    @Test func levelsParse() {
        #expect(Logger.Level(name: "WARNING") == .warning)
        #expect(Logger.Level(name: "loud") == nil)
    }
}
