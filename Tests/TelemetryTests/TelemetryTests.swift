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

@Suite struct MetricsTests {
    @Test func rendersPrometheusText() {
        let registry = MetricsRegistry()
        let requests = registry.counter("scim_requests_total", "Requests.", labels: ["route", "status"])
        let latency = registry.histogram("scim_request_seconds", "Latency.", labels: ["route"], buckets: [0.01, 0.1])
        let open = registry.gauge("scim_open", "Open.")
        registry.gaugeFunction("scim_pool", "Pool.", labels: ["state"]) { [(["idle"], 3), (["busy"], 1.5)] }
        requests.increment(["/scim/v2/Users", "200"])
        requests.increment(["/scim/v2/Users", "200"])
        requests.increment(["/scim/v2/Users/:id", "404"])
        latency.observe(["/x"], 0.005)
        latency.observe(["/x"], 0.05)
        latency.observe(["/x"], 5)
        open.set([], 7)
        #expect(requests.value(["/scim/v2/Users", "200"]) == 2)
        #expect(registry.render() == """
            # HELP scim_requests_total Requests.
            # TYPE scim_requests_total counter
            scim_requests_total{route="/scim/v2/Users",status="200"} 2
            scim_requests_total{route="/scim/v2/Users/:id",status="404"} 1
            # HELP scim_request_seconds Latency.
            # TYPE scim_request_seconds histogram
            scim_request_seconds_bucket{route="/x",le="0.01"} 1
            scim_request_seconds_bucket{route="/x",le="0.1"} 2
            scim_request_seconds_bucket{route="/x",le="+Inf"} 3
            scim_request_seconds_sum{route="/x"} 5.055
            scim_request_seconds_count{route="/x"} 3
            # HELP scim_open Open.
            # TYPE scim_open gauge
            scim_open 7
            # HELP scim_pool Pool.
            # TYPE scim_pool gauge
            scim_pool{state="idle"} 3
            scim_pool{state="busy"} 1.5

            """)
    }

    @Test func labelValuesAreEscaped() {
        let registry = MetricsRegistry()
        registry.counter("c", "h", labels: ["l"]).increment(["a\"b\\c\nd"])
        #expect(registry.render().contains(#"c{l="a\"b\\c\nd"} 1"#))
    }
}
