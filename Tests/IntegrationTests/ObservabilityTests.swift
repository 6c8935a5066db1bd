import Testing
import HTTPCore
import JSON
import NetIO
import TestSupport

/// The value of one Prometheus series (0 when absent).
func metricValue(_ text: String, _ series: String) -> Double {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.split(separator: " ").last ?? "0") ?? 0
    }
    return 0
}

func fetchMetrics(port: Int) throws -> String {
    try HTTPClient(host: "127.0.0.1", port: port).send(HTTPRequest(method: .get, target: "/metrics")).bodyText
}

@Suite(.serialized) struct ObservabilityTests {
    @Test func oneRequestIsOneLogLinePerProcessWithTheSameRequestIdAndCounted() throws {
        let d = try Deployment("obs")
        defer { d.stop() }
        let t = try d.createTenant("observed", region: "eu2")
        let gatewaySeries = "scim_gateway_requests_total{tenant=\"\(t.id)\",region=\"eu2\",route=\"/scim/v2/Users\",status=\"201\"}"
        let regionSeries = "scim_region_requests_total{tenant=\"\(t.id)\",method=\"POST\",route=\"/scim/v2/Users\",status=\"201\"}"
        let gatewayBefore = metricValue(try fetchMetrics(port: d.gateways[0].adminPort), gatewaySeries)
        let regionBefore = metricValue(try fetchMetrics(port: d.regionPorts["eu2"]!), regionSeries)

        let client = HTTPClient(host: "127.0.0.1", port: d.gateways[0].port)
        let requestID = "obs-\(monotonicMillis())"
        let response = try client.send(HTTPRequest(method: .post, target: "/scim/v2/Users",
            headers: ["Authorization": "Bearer \(t.token)", "Content-Type": "application/scim+json", "X-Request-Id": requestID],
            body: userBody("observed@example.com").encoded()))
        #expect(response.status.code == 201)
        #expect(response.headers["X-Request-Id"] == requestID)

        #expect(metricValue(try fetchMetrics(port: d.gateways[0].adminPort), gatewaySeries) == gatewayBefore + 1)
        #expect(metricValue(try fetchMetrics(port: d.regionPorts["eu2"]!), regionSeries) == regionBefore + 1)
        let gatewayMetrics = try fetchMetrics(port: d.gateways[0].adminPort)
        #expect(gatewayMetrics.contains("scim_gateway_request_duration_seconds_count{region=\"eu2\",route=\"/scim/v2/Users\"}"))

        // Logs are JSON lines: exactly one line per process carries this request id, with the fields an SRE needs.
        sleepMillis(100)
        for (name, log) in [("gateway", d.gateways[0].process.log), ("region", d.regionProcesses["eu2"]!.log)] {
            let lines = log.split(separator: "\n").filter { $0.contains("\"request.id\":\"\(requestID)\"") }
            #expect(lines.count == 1, "\(name): \(lines)")
            guard let line = lines.first, case .object(let o)? = try? JSONDecoder.decode(String(line)) else {
                Issue.record("\(name): no JSON log line"); continue
            }
            #expect(o["tenant.id"]?.string == t.id, "\(name)")
            #expect(o["status"]?.int == 201, "\(name)")
            #expect(o["route"]?.string == "/scim/v2/Users", "\(name)")
            #expect(o["duration_ms"] != nil, "\(name)")
            #expect(!line.contains("observed@example.com"), "\(name) logged user data")
            #expect(!line.contains(t.token), "\(name) logged the token")
        }
    }

    @Test func readinessReflectsDependencies() throws {
        let d = try Deployment("ready")
        defer { d.stop() }
        let gateway = HTTPClient(host: "127.0.0.1", port: d.gateways[0].port)
        #expect(try gateway.send(HTTPRequest(method: .get, target: "/readyz")).status.code == 200)
        #expect(try gateway.send(HTTPRequest(method: .get, target: "/healthz")).status.code == 200)
        let region = HTTPClient(host: "127.0.0.1", port: d.regionPorts["us"]!)
        #expect(try region.send(HTTPRequest(method: .get, target: "/readyz")).status.code == 200)
        d.stopRegion("us", kill: true)
        sleepMillis(2500)  // the gateway re-checks regions every 2 s
        // One region down: the gateway stays ready (eu2 tenants still work) and says which region is out.
        let degraded = try gateway.send(HTTPRequest(method: .get, target: "/readyz"))
        #expect(degraded.status.code == 200)
        #expect(degraded.bodyText.contains("us: unreachable"))
        #expect(degraded.bodyText.contains("eu2: ready"))
        let metrics = try fetchMetrics(port: d.gateways[0].adminPort)
        #expect(metrics.contains("scim_gateway_region_up{region=\"us\"} 0"))
        #expect(metrics.contains("scim_gateway_region_up{region=\"eu2\"} 1"))
        d.stopRegion("eu2", kill: true)
        sleepMillis(2500)
        #expect(try gateway.send(HTTPRequest(method: .get, target: "/readyz")).status.code == 503)
        #expect(try gateway.send(HTTPRequest(method: .get, target: "/healthz")).status.code == 200)
    }
}
