import Crypto
import Glibc
import HTTPCore
import JSON
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionRequestLog
import SCIMCore
import Telemetry
import TestSupport
import Testing

/// The request log in the region, in-process against the real test database: what a request leaves (redacted),
/// the read API's filters, cursors and summary, the gateway's records, tenant modes and retention.
@Suite struct RequestLogTests {
    let region: Region

    init() throws { region = try Region(requestLog: true) }

    var log: RequestLogAPI { region.requestLog! }

    func get(_ tenant: Tenant, _ path: String = "", _ query: String = "") -> HTTPResponse {
        region.send(.get, "/internal/v1/tenants/\(tenant.id)/request-log\(path)" + (query.isEmpty ? "" : "?" + query), tenant: tenant.id)
    }

    /// The records of a listing once at least `count` are there (the writer works in the background).
    func records(_ tenant: Tenant, _ query: String = "", atLeast count: Int, sourceLocation: SourceLocation = #_sourceLocation)
        -> [JSONValue]
    {
        var last: [JSONValue] = []
        for _ in 0..<250 {
            let r = get(tenant, "", query)
            #expect(r.status.code == 200, "\(r.bodyText)", sourceLocation: sourceLocation)
            last = r.json["records"]?.array ?? []
            if last.count >= count { return last }
            usleep(20_000)
        }
        Issue.record("only \(last.count) of \(count) records appeared", sourceLocation: sourceLocation)
        return last
    }

    /// Every row of the tenant's request log as text, read as the superuser (what is really stored).
    func storedText(_ tenant: Tenant) throws -> String {
        let admin = try PostgresConnection(configuration: try RegionTestDatabase.get().adminConfiguration)
        let rows = try admin.query("SELECT r::text FROM request_log r WHERE tenant_id = $1::uuid", [.text(tenant.id)])
        return (0..<rows.rowCount).map { rows.string(row: $0, column: 0) ?? "" }.joined(separator: "\n")
    }

    @Test func aRequestLeavesARedactedRecord() throws {
        let t = region.tenant(extra: #","requestLog":{"redactAttributes":["phoneNumbers","name.familyName"]}"#)
        let token = "scim_ABCDEFGHIJKLMNOP_abcdefghijklmnopqrstuvwxyzABCDEF1x2Y3z"
        let created = t.send(.post, "/Users", """
            {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"rl-alice@example.com",
             "password":"Hunter2-Secret!","name":{"givenName":"Alice","familyName":"Liddell"},
             "phoneNumbers":[{"type":"work","value":"+1 555 0100"}],"displayName":"Alice <b>\(token)</b>"}
            """, headers: [("User-Agent", "Okta SCIM Client 1.0.0")])
        #expect(created.status.code == 201, "\(created.bodyText)")
        let id = try #require(created.json["id"]?.string)
        let post = try #require(records(t, atLeast: 1).first)
        #expect(post["method"] == "POST")
        #expect(post["route"] == "/scim/v2/Users")
        #expect(post["status"] == 201)
        #expect(post["resourceType"] == "User")
        #expect(post["resourceId"]?.string == id)
        #expect(post["userName"] == "rl-alice@example.com")
        #expect(post["idp"] == "Okta")
        #expect(post["userAgent"] == "Okta SCIM Client 1.0.0")
        #expect(post["source"] == "region")
        #expect(post["displayName"] == "Alice <b>[REDACTED]</b>")
        let requestBody = try #require(post["request"]?["body"]?.string)
        let responseBody = try #require(post["response"]?["body"]?.string)
        #expect(requestBody.contains("\"Alice\"") && requestBody.contains("[REDACTED]"))
        #expect((post["request"]?["bytes"]?.int ?? 0) > 100 && post["request"]?["truncated"] == false)
        // The stored JSON is the request, redacted: it still parses, and what was hidden is gone from every column.
        #expect(try JSONDecoder.decode(requestBody)["password"] == "[REDACTED]")
        #expect(try JSONDecoder.decode(responseBody)["name"]?["familyName"] == "[REDACTED]")
        #expect(try JSONDecoder.decode(responseBody)["name"]?["givenName"] == "Alice")
        for hidden in ["Hunter2-Secret!", "+1 555 0100", "Liddell", token] {
            #expect(!(try storedText(t)).contains(hidden), "\(hidden) is stored")
        }

        // Entra's dialect: the capitalised op is fixed (and recorded), the redacted attribute's value is hidden even
        // when only the PATCH path names it.
        let patched = t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"Replace","path":"phoneNumbers[type eq \"work\"].value","value":"+1 555 0199"}"#))
        #expect(patched.status.code == 200, "\(patched.bodyText)")
        let patch = try #require(records(t, "method=PATCH", atLeast: 1).first)
        #expect(patch["quirks"] == ["capitalisedPatchOp"])
        #expect(patch["idp"] == "Entra ID")
        #expect(patch["resourceId"]?.string == id)
        #expect(patch["userName"] == "rl-alice@example.com")  // from the answer
        #expect(patch["request"]?["body"]?.string?.contains("[REDACTED]") == true)
        #expect(!(try storedText(t)).contains("555 0199"))

        // An error: status, scimType and detail; a read: names from the answer, its body not kept.
        let conflict = t.send(.post, "/Users", #"{"userName":"RL-ALICE@example.com"}"#)
        #expect(conflict.status.code == 409)
        #expect(t.send(.get, "/Users/\(id)").status.code == 200)
        #expect(t.send(.get, "/Users?filter=" + PercentEncoding.encode("userName eq \"nobody@example.com\"")).status.code == 200)
        let all = records(t, atLeast: 5)
        let error = try #require(all.first { $0["status"] == 409 })
        #expect(error["scimType"] == "uniqueness")
        #expect(error["detail"]?.string?.contains("userName") == true)
        #expect(error["response"]?["body"]?.string?.contains("uniqueness") == true)
        let read = try #require(all.first { $0["method"] == "GET" && $0["resourceId"]?.string == id })
        #expect(read["userName"] == "rl-alice@example.com")
        #expect(read["response"]?["omitted"] == "not-kept")
        #expect(read["response"]?["body"] == .null)
        let lookup = try #require(all.first { $0["route"] == "/scim/v2/Users" && $0["method"] == "GET" })
        #expect(lookup["userName"] == "nobody@example.com")
        #expect(lookup["results"] == 0)
        #expect(lookup["query"]?.string == "filter=userName eq \"nobody@example.com\"")
    }

    @Test func secretsNeverReachAnyColumn() throws {
        let t = region.tenant()
        let token = "scim_" + Base62.random(16) + "_" + Base62.random(32) + "AbC123"
        let clientSecret = "scimsec_" + Base62.random(38)
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVlLWhlcmU"
        let pairSecret = Base62.random(32)
        // Secrets in a query (a parameter named like one, and a token-shaped filter value), in unknown attributes, in
        // a PATCH of `password`, and a body that is not JSON at all.
        t.send(.get, "/Users?access_token=\(token)&filter=" + PercentEncoding.encode("userName eq \"\(jwt)\""))
        t.send(.post, "/Users", #"{"userName":"sec@example.com","client_secret":"\#(clientSecret)","x-api-key":"k-\#(pairSecret)","title":"\#(pairSecret)"}"#)
        let id = t.user("sec2@example.com")
        t.send(.patch, "/Users/\(id)", patchOp(#"{"op":"replace","path":"password","value":"correct horse battery"}"#))
        t.send(.post, "/Users", "password=plain-text-\(pairSecret)", headers: [("Content-Type", "application/json")])
        let all = records(t, atLeast: 5)
        #expect(all.contains { $0["request"]?["omitted"] == "not-json" })
        let stored = try storedText(t)
        #expect(stored.contains("sec@example.com"), "nothing stored")
        for secret in [token, clientSecret, jwt, pairSecret, "correct horse battery"] {
            #expect(!stored.contains(secret), "\(secret.prefix(12))… is stored")
        }
    }

    @Test func filtersAndCursorPaging() throws {
        let t = region.tenant()
        var ids: [String] = []
        for i in 0..<12 { ids.append(t.user("page-\(i)@example.com")) }
        for _ in 0..<6 { #expect(t.send(.get, "/Users/\(SecureRandom.uuid())").status.code == 404) }
        for _ in 0..<4 { t.send(.patch, "/Users/\(ids[0])", patchOp(#"{"op":"replace","path":"title","value":"x"}"#)) }
        for _ in 0..<3 { #expect(t.send(.post, "/Users", #"{"userName":"page-1@example.com"}"#).status.code == 409) }
        let all = records(t, "limit=500", atLeast: 25)
        #expect(all.count == 25)
        let seqs = all.compactMap { $0["id"]?.string.flatMap { Int($0) } }
        #expect(seqs == seqs.sorted(by: >), "newest first")

        func count(_ query: String) -> Int { (get(t, "", query + "&limit=500").json["records"]?.array ?? []).count }
        #expect(count("status=4xx") == 9)
        #expect(count("status=404") == 6)
        #expect(count("status=2xx") == 16)
        #expect(count("method=PATCH") == 4)
        #expect(count("resourceId=\(ids[0])") == 5)
        #expect(count("resource=\(ids[0])") == 5)
        #expect(count("userName=page-1@example.com") == 4)
        #expect(count("userName=PAGE-1@example.com") == 0, "exact")
        #expect(count("method=patch&status=200&resourceId=\(ids[0])") == 4)
        #expect(count("source=gateway") == 0)
        // Time range: `since` is inclusive, `until` exclusive.
        let oldestPatch = try #require((get(t, "", "method=PATCH&limit=500").json["records"]?.array)?.last?["at"]?.string)
        // Compared as instants, not strings: "…:05.1Z" sorts after "…:05.123456Z" as text (the fraction has 0, 3 or 6
        // digits), which made this count wrong now and then (seen once in tonight's runs).
        let oldestInstant = try #require(PostgresTimestamp(postgresText: oldestPatch))
        let sinceCount = all.filter { ($0["at"]?.string).flatMap { PostgresTimestamp(postgresText: $0) }.map { $0 >= oldestInstant } ?? false }.count
        #expect(count("since=\(oldestPatch)") == sinceCount)
        #expect(count("until=\(oldestPatch)") == 25 - sinceCount)

        // Paging: every record once, in order, whatever the page size; the last page says so.
        for (query, expected) in [("limit=4", 25), ("status=4xx&limit=2", 9)] {
            var seen: [String] = [], cursor: String? = nil, pages = 0
            repeat {
                let page = get(t, "", query + (cursor.map { "&cursor=" + PercentEncoding.encode($0) } ?? ""))
                #expect(page.status.code == 200, "\(page.bodyText)")
                seen += (page.json["records"]?.array ?? []).compactMap { $0["id"]?.string }
                cursor = page.json["next"]?.string
                #expect(page.json["hasMore"]?.bool == (cursor != nil))
                pages += 1
            } while cursor != nil && pages < 50
            #expect(seen.count == expected && Set(seen).count == expected, "\(query)")
            #expect(seen.compactMap { Int($0) } == seen.compactMap { Int($0) }.sorted(by: >))
        }

        // Cursors are bound to their filters, their tenant and their bytes.
        let cursor = try #require(get(t, "", "status=4xx&limit=2").json["next"]?.string)
        #expect(get(t, "", "status=2xx&cursor=" + PercentEncoding.encode(cursor)).scimType == "invalidCursor")
        #expect(get(t, "", "status=4xx&cursor=" + PercentEncoding.encode(cursor)).status.code == 200)
        var tampered = Array(cursor.utf8)
        tampered[3] = tampered[3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(get(t, "", "status=4xx&cursor=" + PercentEncoding.encode(String(decoding: tampered, as: UTF8.self))).scimType == "invalidCursor")
        let other = region.tenant()
        #expect(get(other, "", "status=4xx&cursor=" + PercentEncoding.encode(cursor)).scimType == "invalidCursor")
        #expect(get(other, "", "limit=500").json["records"]?.array?.isEmpty == true, "another tenant sees nothing")
        #expect(region.send(.get, "/internal/v1/tenants/\(t.id)/request-log", tenant: other.id).status.code == 403)

        // Bad filter input: a 400 that names the parameter.
        for (query, word) in [("status=6xx", "status"), ("status=abc", "status"), ("method=FETCH", "method"), ("limit=0", "limit"),
                              ("limit=501", "limit"), ("since=yesterday", "since"), ("user=page-1", "user"),
                              ("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"), ("status=2xx&status=4xx", "status"),
                              ("source=idp", "source"), ("bodies=maybe", "bodies"), ("cursor=", "cursor")] {
            let r = get(t, "", query)
            #expect(r.status.code == 400, "\(query): \(r.status.code)")
            #expect(r.detail?.contains(word) == true, "\(query): \(r.detail ?? "")")
        }
        // Bodies can be left out of a listing.
        let light = get(t, "", "status=409&bodies=false").json["records"]?.array?.first
        #expect(light?["request"]?["body"] == .null)
        #expect(light?["request"]?["bytes"]?.int ?? 0 > 0)
    }

    @Test func aWrongPathIsRecordedForItsTenant() throws {
        let t = region.tenant()
        #expect(t.send(.get, "/Userz?filter=" + PercentEncoding.encode(#"userName eq "lost@example.com""#)).status.code == 404)
        #expect(t.send(.put, "/Users").status.code == 405)
        // Unsigned, it is still a 404 and nobody's record.
        #expect(region.send(.get, "/scim/v2/Userz", tenant: nil).status.code == 404)
        let all = records(t, atLeast: 2)
        #expect(all.count == 2)
        #expect(all.contains { $0["status"] == 404 && $0["route"] == "unmatched" && $0["userName"] == "lost@example.com"
                               && $0["detail"] == "no such endpoint" })
        #expect(all.contains { $0["status"] == 405 && $0["method"] == "PUT" && $0["route"] == "/scim/v2/Users" })
    }

    @Test func deletingATenantDeletesItsRecords() throws {
        let t = region.tenant()
        let kept = region.tenant()
        t.user("gone@example.com")
        kept.user("kept@example.com")
        _ = records(t, atLeast: 1)
        _ = records(kept, atLeast: 1)
        #expect(region.send(.delete, "/internal/v1/tenants/\(t.id)", tenant: t.id).status.code == 204)
        #expect(try storedText(t).isEmpty)
        #expect(try storedText(kept).contains("kept@example.com"))
        // A record of the deleted tenant that was still queued is not written (the batch finds no tenant).
        let late = RequestLogEntry(tenant: t.id, atMillis: Timestamp.nowEpochMillis(), requestID: "late", source: .region,
                                   method: "GET", route: "/scim/v2/Users", status: 200, durationMillis: 1,
                                   answered: .init(userName: "late@example.com"))
        let rows = [RequestLogRow(late, settings: RequestLogSettings())!]
        #expect(try RequestLogWriter.insert(rows, pool: log.writer.pool) == 0)
        #expect(try storedText(t).isEmpty)
    }

    @Test func followingReturnsWhatArrivedSinceOldestFirst() throws {
        let t = region.tenant()
        t.user("before@example.com")
        _ = records(t, atLeast: 1)
        let first = get(t)
        var newer = try #require(first.json["newer"]?.string)
        #expect(first.json["next"] == .null)
        var names: [String] = []
        for i in 0..<3 { t.user("after-\(i)@example.com") }
        for _ in 0..<250 where names.count < 3 {
            let page = get(t, "", "cursor=" + PercentEncoding.encode(newer))
            #expect(page.status.code == 200, "\(page.bodyText)")
            names += (page.json["records"]?.array ?? []).compactMap { $0["userName"]?.string }
            newer = page.json["newer"]?.string ?? newer
            #expect(page.json["next"] == .null)
            usleep(20_000)
        }
        #expect(names == ["after-0@example.com", "after-1@example.com", "after-2@example.com"])
        // Nothing new: an empty page, and the cursor still works.
        let idle = get(t, "", "cursor=" + PercentEncoding.encode(newer))
        #expect(idle.json["records"]?.array?.isEmpty == true)
        #expect(idle.json["newer"]?.string != nil)
    }

    @Test func summaryForALiveConnectionCheck() throws {
        let t = region.tenant()
        t.user("sum@example.com")
        t.send(.post, "/Users", #"{"userName":"sum@example.com"}"#)
        t.send(.get, "/Users/\(SecureRandom.uuid())")
        t.send(.get, "/Users?count=1")
        _ = records(t, atLeast: 4)
        let r = get(t, "/summary", "minutes=5&recent=3")
        #expect(r.status.code == 200, "\(r.bodyText)")
        #expect(r.json["total"] == 4)
        #expect(r.json["byClass"] == ["2xx": 2, "3xx": 0, "4xx": 2, "5xx": 0])
        #expect(r.json["windowMinutes"] == 5)
        #expect(r.json["lastRequestAt"]?.string != nil)
        let recent = r.json["recent"]?.array ?? []
        #expect(recent.count == 3)
        #expect(recent.first?["route"] == "/scim/v2/Users" && recent.first?["method"] == "GET")
        #expect(recent.allSatisfy { $0["request"] == nil }, "the summary leaves bodies out")
        #expect(get(t, "/summary", "minutes=0").status.code == 400)
        #expect(get(t, "/summary", "recent=51").status.code == 400)
        #expect(get(t, "/summary", "since=1").detail?.contains("since") == true)
        let empty = get(region.tenant(), "/summary")
        #expect(empty.json["total"] == 0 && empty.json["lastRequestAt"] == .null)
        // A window given by times, and who wrote the records in it (the residency report's "processed by").
        let all = get(t, "/summary", "since=2000-01-01T00:00:00Z&recent=0")
        #expect(all.status.code == 200 && all.json["total"] == 4 && all.json["until"] == .null, "\(all.bodyText)")
        #expect(all.json["processes"] == [["source": "region", "writtenBy": "test/unit-host/1", "region": "test", "requests": 4,
                                           "first": all.json["processes"]?[0]?["first"] ?? .null, "last": all.json["processes"]?[0]?["last"] ?? .null]])
        let before = get(t, "/summary", "since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z")
        #expect(before.json["total"] == 0 && before.json["processes"] == [] && before.json["until"] == "2001-01-01T00:00:00.000Z",
                "\(before.bodyText)")
        #expect(get(t, "/summary", "since=2001-01-01T00:00:00Z&until=2000-01-01T00:00:00Z").status.code == 400)
        #expect(get(t, "/summary", "until=yesterday").detail?.contains("until") == true)
    }

    @Test func recordsOfRequestsTheGatewayRefused() throws {
        let t = region.tenant()
        let id = SecureRandom.uuid()
        let body = Base64.encode(Array(#"{"userName":"refused@example.com","password":"p4ssw0rd-long-enough"}"#.utf8))
        let records = """
            {"records":[
             {"at":\(Timestamp.nowEpochMillis()),"requestId":"gw-1","method":"POST","route":"/scim/v2/Users","path":"/scim/v2/Users",
              "userAgent":"Okta SCIM Client 1.0.0","status":401,"detail":"integration deactivated","outcome":"integration-deactivated",
              "durationMs":0.2,"bodyBytes":70,"body":"\(body)"},
             {"at":\(Timestamp.nowEpochMillis()),"requestId":"gw-2","method":"GET","route":"/scim/v2/Users/:id",
              "path":"/scim/v2/Users/\(id)","status":429,"detail":"rate limit exceeded for this tenant","outcome":"rate-limited",
              "durationMs":1000.5,"bodyBytes":0}]}
            """
        let accepted = region.send(.post, "/internal/v1/tenants/\(t.id)/request-log", tenant: t.id, body: records)
        #expect(accepted.status.code == 202, "\(accepted.bodyText)")
        #expect(accepted.json["accepted"] == 2)
        let listed = self.records(t, "source=gateway", atLeast: 2)
        let deactivated = try #require(listed.first { $0["requestId"] == "gw-1" })
        #expect(deactivated["outcome"] == "integration-deactivated")
        #expect(deactivated["status"] == 401 && deactivated["userName"] == "refused@example.com")
        #expect(deactivated["request"]?["body"]?.string?.contains("p4ssw0rd") == false)
        #expect(deactivated["response"]?["body"]?.string?.contains("integration deactivated") == true)
        let limited = try #require(listed.first { $0["requestId"] == "gw-2" })
        #expect(limited["resourceId"]?.string == id && limited["resourceType"] == "User")
        #expect(get(t, "/summary").json["byOutcome"] == ["integration-deactivated": 1, "rate-limited": 1])
        // Malformed batches are refused whole, with the field named.
        for (bad, word) in [(#"{"records":[{"requestId":"x"}]}"#, "at"), (#"{"records":{}}"#, "records"),
                            (#"{"records":[{"at":1,"requestId":"x","method":"TRACE","route":"r","path":"p","status":200}]}"#, "method"),
                            (#"{"records":[{"at":1,"requestId":"x","method":"GET","route":"r","path":"p","status":200,"body":"%%"}]}"#, "body")] {
            let r = region.send(.post, "/internal/v1/tenants/\(t.id)/request-log", tenant: t.id, body: bad)
            #expect(r.status.code == 400, "\(bad)")
            #expect(r.detail?.contains(word) == true, "\(r.detail ?? "")")
        }
    }

    @Test func modesOffAndMetadataOnly() throws {
        let off = region.tenant(extra: #","requestLog":{"mode":"off"}"#)
        let metadata = region.tenant(extra: #","requestLog":{"mode":"metadata"}"#)
        let marker = region.tenant()
        off.user("off@example.com")
        off.send(.get, "/Users?count=1")
        metadata.user("meta@example.com")
        metadata.send(.get, "/Users?filter=" + PercentEncoding.encode("userName eq \"meta@example.com\""))
        marker.user("marker@example.com")
        _ = records(metadata, atLeast: 2)
        _ = records(marker, atLeast: 1)
        #expect(records(off, atLeast: 0).isEmpty)
        for record in records(metadata, atLeast: 2) {
            #expect(record["request"]?["body"] == .null && record["response"]?["body"] == .null)
            #expect(record["query"] == .null)
            #expect(record["userName"] == "meta@example.com")
        }
        #expect(records(metadata, "method=POST", atLeast: 1).first?["request"]?["omitted"] == "metadata-only")
        // A bad setting is refused when the tenant is provisioned, naming the setting.
        let id = SecureRandom.uuid()
        for (settings, word) in [(#"{"mode":"verbose"}"#, "mode"), (#"{"retentionSeconds":0}"#, "retentionSeconds"),
                                 (#"{"maxRecords":"many"}"#, "maxRecords"), (#"{"maxBodyBytes":100000}"#, "maxBodyBytes"),
                                 (#"{"redactAttributes":"phone"}"#, "redactAttributes"), (#"{"keep":true}"#, "keep")] {
            let r = region.send(.put, "/internal/v1/tenants/\(id)", tenant: id, body: #"{"name":"x","requestLog":\#(settings)}"#)
            #expect(r.status.code == 400 && r.detail?.contains(word) == true, "\(settings): \(r.detail ?? "")")
        }
    }

    @Test func retentionPurgesByAgeAndByCount() throws {
        let short = region.tenant(extra: #","requestLog":{"retentionSeconds":1}"#)
        let few = region.tenant(extra: #","requestLog":{"maxRecords":3}"#)
        let kept = region.tenant()
        for i in 0..<4 {
            short.user("short-\(i)@example.com")
            few.user("few-\(i)@example.com")
        }
        kept.user("kept@example.com")
        _ = records(short, atLeast: 4)
        let before = records(few, atLeast: 4).compactMap { $0["id"]?.string }
        _ = records(kept, atLeast: 1)
        usleep(1_200_000)
        let retention = RequestLogRetention(pool: log.pool, writer: log.writer, interval: .seconds(60),
                                            logger: Logger(label: "t", level: .error, sink: LogSink.memory()), batchSize: 2)
        let (age, count) = try retention.purge()
        #expect(age >= 4 && count >= 1)
        #expect(get(short, "", "limit=500").json["records"]?.array?.isEmpty == true)
        let after = (get(few, "", "limit=500").json["records"]?.array ?? []).compactMap { $0["id"]?.string }
        #expect(after == Array(before.prefix(3)), "the newest three are kept")
        #expect(get(kept, "", "limit=500").json["records"]?.array?.count == 1)
        #expect(region.metrics.render().contains("scim_region_request_log_purged_total{limit=\"age\"}"))
    }

    @Test func aStalledWriterDropsRecordsNeverRequests() throws {
        // A database of its own: the lock below would otherwise hold up the other tests' reads of request_log (their
        // readers give up after 2 s) whenever the 60 POSTs take longer than that.
        let database = try TestDatabase.create("request_log_stall")
        defer { database.drop() }
        let migrating = PostgresPool(configuration: database.appConfiguration, maxConnections: 1)
        try Migrator.migrate(migrating, migrations: RegionSchema.migrations)
        migrating.close()
        let small = try Region(configuration: database.appConfiguration, requestLog: true, requestLogBuffer: 20)
        let t = small.tenant()
        let locker = try PostgresConnection(configuration: database.adminConfiguration)
        try locker.executeScript("BEGIN; LOCK TABLE request_log IN ACCESS EXCLUSIVE MODE")
        var slowest = 0.0
        for i in 0..<60 {
            let start = Timestamp.monotonicNanos()
            let r = small.send(.post, "/scim/v2/Users", tenant: t.id, body: #"{"userName":"stall-\#(i)@example.com"}"#)
            #expect(r.status.code == 201)
            slowest = max(slowest, Double(Timestamp.monotonicNanos() - start) / 1e6)
        }
        try locker.executeScript("ROLLBACK")
        let dropped = small.requestLog!.writer.metrics.droppedCount("buffer_full")
        #expect(dropped > 0, "the buffer of 20 never filled")
        #expect(slowest < 1000, "a request waited \(slowest) ms on the request log")
        // Once the lock is gone, records are written again (a lookup is repeated: while the writer works off its full
        // buffer, one may still be dropped).
        var found = false
        for _ in 0..<100 where !found {
            let lookup = small.send(.get, "/scim/v2/Users?filter=" + PercentEncoding.encode(#"userName eq "after-stall@example.com""#),
                                    tenant: t.id)
            #expect(lookup.status.code == 200)
            for _ in 0..<10 where !found {
                let r = small.send(.get, "/internal/v1/tenants/\(t.id)/request-log?userName=after-stall@example.com", tenant: t.id)
                found = r.json["records"]?.array?.isEmpty == false
                if !found { usleep(20_000) }
            }
        }
        #expect(found)
        print("writer stall (in-process): 60 POSTs while request_log was locked, slowest \(Int(slowest)) ms, \(dropped) records dropped")
    }
}

/// The redaction rules on their own (pure).
@Suite struct RequestLogRedactionTests {
    @Test(arguments: [
        ("scim_AbCdEfGhIjKlMnOp_AbCdEfGhIjKlMnOpQrStUvWxYz012345AbC123", true),
        ("scimadm_AbCdEfGhIjKlMnOp_AbCdEfGhIjKlMnOpQrStUvWxYz012345AbC123", true),
        ("scimsec_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", true),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.abc", true),
        ("access_token=scim_abcdefghijklmnop_abcdefghijklmnopqrstuvwxyzabcdef", true),  // one run, lower case only
        ("Bearer=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.abc", true),
        ("AbCdEfGhIjKlMnOpQrStUvWxYzabcdef", true),  // a 32-character secret half without digits
        ("Zx9kP2mQ7rT4vW8yB3nL6hJ1", true),
        ("0e3c5a2b-7d41-4f3e-9a8b-1c2d3e4f5a6b", false),  // a UUID
        ("alice.liddell@example.com", false),
        ("00u1a2b3c4D5e6F7g8h9", false),  // an Okta user id (20 characters)
        ("scim_admins_group", false),
        ("John Smith", false),
        ("Engineering", false),
        ("http://127.0.0.1:8080/scim/v2/Groups/01a246e5-8398-7245-87da-c76b5ff7dba1", false),  // meta.location
        ("https://eu2-api.example.com/scim/v2/Users/00u1a2B3c4D5e6F7g8h9", false),  // a $ref to an Okta-style id
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", true),  // standard base64 with slashes
        ("https://hooks.example.com/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", true),  // its path is its secret
    ])
    func secretLookingText(_ text: String, _ secret: Bool) {
        #expect(SecretText.containsSecret(text) == secret, "\(text)")
        #expect(SecretText.containsSecret("a \(text) b") == secret, "embedded: \(text)")
    }

    @Test func keysPathsAndHiddenValues() throws {
        var redactor = Redactor(RequestLogSettings(redactAttributes: ["phoneNumbers", "name.familyName",
                                                                      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"]))
        let body = try JSONDecoder.decode("""
            {"userName":"u@example.com","Password":"s3cret-value","name":{"familyName":"Doe","givenName":"Jo"},
             "phoneNumbers":[{"value":"+44 20 7946 0000"}],"familyName":"kept at the top level",
             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"E-1234","department":"Ops"},
             "Operations":[{"op":"Replace","path":"name.familyName","value":"Roe"},
                           {"op":"add","path":"emails[type eq \\"work\\"].value","value":"x@example.com"},
                           {"op":"replace","value":{"name.familyName":"Poe","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"E-9"}}]}
            """)
        let out = redactor.redact(body)
        #expect(out["Password"] == "[REDACTED]")
        #expect(out["name"]?["familyName"] == "[REDACTED]" && out["name"]?["givenName"] == "Jo")
        #expect(out["phoneNumbers"] == "[REDACTED]")
        #expect(out["familyName"] == "kept at the top level")
        #expect(out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]?["employeeNumber"] == "[REDACTED]")
        #expect(out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]?["department"] == "Ops")
        let ops = out["Operations"]?.array ?? []
        #expect(ops[0]["value"] == "[REDACTED]")
        #expect(ops[1]["value"] == "x@example.com")
        #expect(ops[2]["value"]?["name.familyName"] == "[REDACTED]")
        #expect(ops[2]["value"]?["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"] == "[REDACTED]")
        // What was hidden stays out of other text too.
        #expect(redactor.scrub("member 'E-1234' or Roe or s3cret-value") == "member '[REDACTED]' or [REDACTED] or [REDACTED]")
        #expect(!out.description.contains("Doe") && !out.description.contains("7946") && !out.description.contains("E-9"))
    }

    @Test func aFillingBufferShedsSuccessfulReadsFirst() {
        let buffer = RequestLogBuffer(capacity: 8, byteCapacity: 1 << 20, wakeAt: 8)
        func entry(_ method: String, _ status: Int) -> RequestLogEntry {
            RequestLogEntry(tenant: "t", atMillis: 0, requestID: "r", source: .region, method: method, route: "/scim/v2/Users",
                            status: status, durationMillis: 1)
        }
        #expect((0..<6).map { _ in buffer.offer(entry("GET", 200)) } == Array(repeating: .queued, count: 6))
        #expect(buffer.offer(entry("GET", 200)) == .shed)  // 6 of 8: three quarters full
        #expect(buffer.offer(entry("GET", 404)) == .queued)  // an error is kept
        #expect(buffer.offer(entry("POST", 201)) == .queued)  // so is a write
        #expect(buffer.offer(entry("PATCH", 200)) == .full)
        #expect(buffer.drain(deadlineNanos: 0).count == 8)
        #expect(buffer.offer(entry("GET", 200)) == .queued)
    }

    @Test func cutNeverSplitsACharacter() {
        #expect(RequestLogRow.cut("aé€😀", 4) == "aé")
        #expect(RequestLogRow.cut("aé€😀", 6) == "aé€")
        #expect(RequestLogRow.cut("abc", 3) == "abc")
        #expect(RequestLogRow.withoutNUL("a\u{0}b") == "a\u{FFFD}b")
    }
}
