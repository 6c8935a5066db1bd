import Crypto
import HTTPCore
import JSON
import NetIO
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import RegionLink
import SCIMCore
import Telemetry
import TestSupport
import Testing

/// Quirk telemetry in the region: counted per tenant and quirk in memory, flushed in batches to `idp_quirks`,
/// reported by the internal API and `/metrics`.
@Suite struct QuirkCountsTests {
    let region: Region
    let metrics = MetricsRegistry()
    let counts: QuirkCounts
    let responder: RegionResponder

    init() throws {
        region = try Region()
        counts = QuirkCounts(metrics: metrics)
        let logger = Logger(label: "quirk-test", level: .error, sink: LogSink.memory())
        let service = SCIMService(database: region.responder.service.database, settings: RegionSettings(), logger: logger,
                                  quirkCounts: counts)
        let readiness = Readiness()
        readiness.markMigrated()
        responder = RegionResponder(service: service, authenticator: region.responder.authenticator, readiness: readiness,
                                    region: "test", logger: logger, metrics: RegionMetrics(registry: metrics))
    }

    var database: RegionDatabase { responder.service.database }

    func send(_ tenant: String?, _ method: HTTPMethod, _ target: String, _ body: String? = nil) -> HTTPResponse {
        var request = HTTPRequest(method: method, target: target, headers: HTTPHeaders([("Host", "region.internal")]),
                                  body: body.map { Array($0.utf8) } ?? [])
        if body != nil { request.headers.add("Content-Type", "application/scim+json") }
        if let tenant {
            LinkSignature.sign(&request, tenant: tenant, baseURL: region.baseURL, requestID: "req-quirks", key: testLinkKey,
                               nowSeconds: Int(Timestamp.nowEpochMillis() / 1000))
        }
        return responder.respond(to: request, context: RequestContext(remoteAddress: "127.0.0.1", connectionID: 1,
                                                                    isTLS: false, receivedAtNanos: 0))
    }

    /// `quirk → count` from the internal API.
    func reported(_ tenant: String) -> [String: Int] {
        let r = send(tenant, .get, "/internal/v1/tenants/\(tenant)/quirks")
        #expect(r.status.code == 200, "\(r.bodyText)")
        var out: [String: Int] = [:]
        for q in r.json["quirks"]?.array ?? [] { out[q["quirk"]?.string ?? "?"] = q["count"]?.int }
        return out
    }

    func storedRows(_ tenant: String) throws -> [String: Int] {
        let c = try PostgresConnection(configuration: RegionTestDatabase.get().adminConfiguration)
        let r = try c.query("SELECT quirk, count FROM idp_quirks WHERE tenant_id = $1::uuid ORDER BY quirk", [.text(tenant)])
        var out: [String: Int] = [:]
        for row in 0..<r.rowCount { out[r.string(row: row, column: 0)!] = Int(r.int(row: row, column: 1)!) }
        return out
    }

    @Test func requestsAreCountedPerTenantAndQuirkAndSurviveFlushes() throws {
        let entra = region.tenant(), okta = region.tenant()
        let user = entra.user("adele@contoso.com", #","active":true"#)
        // Plain RFC 7644 traffic counts nothing.
        #expect(send(entra.id, .patch, "/scim/v2/Users/\(user)", patchOp(#"{"op":"replace","path":"active","value":false}"#)).status.code == 200)
        #expect(reported(entra.id) == [:])
        // Entra default dialect, twice [docs/idp-behaviour.md#entra-overview].
        for _ in 0..<2 {
            let r = send(entra.id, .patch, "/scim/v2/Users/\(user)", patchOp(#"{"op":"Replace","path":"active","value":"False"}"#))
            #expect(r.status.code == 200)
        }
        // A request that fails counts nothing (the 404 happens after the PATCH body was parsed).
        #expect(send(entra.id, .patch, "/scim/v2/Users/\(SecureRandom.uuid())", patchOp(#"{"op":"Replace","path":"active","value":"True"}"#)).status.code == 404)
        #expect(reported(entra.id) == ["capitalisedPatchOp": 2, "booleanAsString": 2])
        #expect(reported(okta.id) == [:])
        #expect(try storedRows(entra.id) == [:])  // nothing written on the request path

        #expect(counts.flush(database) == 1)
        #expect(try storedRows(entra.id) == ["booleanAsString": 2, "capitalisedPatchOp": 2])
        #expect(reported(entra.id) == ["capitalisedPatchOp": 2, "booleanAsString": 2])  // not counted twice
        #expect(counts.flush(database) == 0)

        // More after the flush adds to the stored counts; a list query counts its own quirks.
        #expect(send(entra.id, .get, "/scim/v2/Users?filter=externalId+eq+jyoung").status.code == 200)
        #expect(send(entra.id, .patch, "/scim/v2/Users/\(user)", patchOp(#"{"op":"Replace","path":"active","value":"True"}"#)).status.code == 200)
        let r = send(entra.id, .get, "/internal/v1/tenants/\(entra.id)/quirks")
        #expect(r.json["tenantId"]?.string == entra.id)
        let quirks = r.json["quirks"]?.array ?? []
        #expect(quirks.map { $0["quirk"]?.string ?? "" } == ["capitalisedPatchOp", "booleanAsString", "unquotedFilterValue"])
        #expect(quirks.map { $0["count"]?.int ?? 0 } == [3, 3, 1])
        #expect(quirks[0]["knownSenders"] == ["Entra ID (default dialect)"])
        let first = quirks[0]["firstSeen"]?.string ?? "", last = quirks[0]["lastSeen"]?.string ?? ""
        #expect(first.hasSuffix("Z") && last.hasSuffix("Z") && first <= last)

        // Another tenant can neither read nor be read through the path.
        #expect(send(okta.id, .get, "/internal/v1/tenants/\(entra.id)/quirks").status.code == 403)
    }

    @Test func aDeletedTenantsPendingCountsAreDroppedAndAnUnknownTenantIs404() throws {
        let t = region.tenant()
        counts.record(tenant: t.id, QuirkSet([.patchWithoutSchemas]))
        #expect(send(t.id, .delete, "/internal/v1/tenants/\(t.id)").status.code == 204)
        #expect(counts.flush(database) == 0)
        #expect(counts.flush(database) == 0)  // dropped, not retried forever
        #expect(send(t.id, .get, "/internal/v1/tenants/\(t.id)/quirks").status.code == 404)
    }

    @Test func concurrentRecordingAndFlushingLoseNothing() throws {
        let t = region.tenant()
        let counts = self.counts, database = self.database
        onThreads(9) { i in
            if i == 8 {
                for _ in 0..<20 { counts.flush(database) }
            } else {
                for _ in 0..<50 { counts.record(tenant: t.id, QuirkSet([.extraOperationKeys, .capitalisedPatchOp])) }
            }
        }
        #expect(reported(t.id) == ["capitalisedPatchOp": 400, "extraOperationKeys": 400])
        counts.flush(database)
        #expect(try storedRows(t.id) == ["capitalisedPatchOp": 400, "extraOperationKeys": 400])
    }

    @Test func metricsExposeTheProcessCounter() throws {
        let t = region.tenant()
        let g = t.group("okta group")
        let r = send(t.id, .patch, "/scim/v2/Groups/\(g)", #"{"Operations":[{"op":"replace","value":{"id":"\#(g)","displayName":"Renamed"}}]}"#)
        #expect(r.status.code == 200)
        let scrape = send(nil, .get, "/metrics")
        #expect(scrape.status.code == 200)
        #expect(scrape.headers["Content-Type"] == MetricsRegistry.contentType)
        #expect(scrape.bodyText.contains("scim_region_idp_quirks_total{tenant=\"\(t.id)\",quirk=\"patchWithoutSchemas\"} 1\n"))
        #expect(scrape.bodyText.contains("scim_region_idp_quirks_total{tenant=\"\(t.id)\",quirk=\"readOnlyKeysInNoPathValue\"} 1\n"))
    }
}
