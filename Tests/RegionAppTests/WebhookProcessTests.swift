import Glibc
import HTTPCore
import JSON
import NetIO
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import TestSupport
import Testing

/// Webhooks across real processes: configured through the gateway's admin API, delivered by `scim-region` from
/// its database, surviving a SIGKILL of the region mid-delivery and a receiver that is down for a while.
@Suite(.serialized) struct WebhookProcessTests {
    static let regionArguments = ["--webhook-timeout", "2s", "--webhook-lease", "4s", "--webhook-poll-interval", "100ms",
                                  "--webhook-retry-base", "200ms", "--webhook-retry-cap", "1s", "--webhook-batch-size", "10"]

    /// All events of the tenant through the admin API's pull endpoint.
    static func pull(_ d: Deployment, _ tenant: String) throws -> [JSONValue] {
        var after = ""
        var out: [JSONValue] = []
        while true {
            let (status, json) = try d.admin(.get, "/admin/v1/tenants/\(tenant)/events?limit=50" + (after.isEmpty ? "" : "&after=\(after)"))
            #expect(status == 200)
            out += json?["events"]?.array ?? []
            after = json?["next"]?.string ?? ""
            if json?["hasMore"]?.bool != true { return out }
        }
    }

    static func acknowledged(_ receiver: WebhookReceiver) -> [JSONValue] {
        receiver.deliveries.filter { $0.status == 200 }.flatMap { (try? JSONDecoder.decode($0.body))?["events"]?.array ?? [] }
    }

    @Test func deliveryResumesInOrderAfterTheRegionIsKilledAndWhileTheReceiverIsDown() throws {
        var receiver = try WebhookReceiver()
        let port = receiver.port
        let d = try Deployment("webhooks", regionArguments: Self.regionArguments)
        defer {
            receiver.stop()
            d.stop()
        }
        let (tenant, token) = try d.createTenant("hooks", region: "us")
        for i in 0..<60 {
            #expect(try d.scim(.post, "/scim/v2/Users", token: token, body: userBody("k\(i)@example.com")).status.code == 201)
        }
        // Each POST is held 1 s by the receiver, and the kill below waits until the third of six is being held: it
        // lands in the middle of that delivery (a fixed 150 ms after the second answer could miss it on a loaded
        // machine).
        receiver.respond(status: 200, delayMillis: 1000)
        let (putStatus, put) = try d.admin(.put, "/admin/v1/tenants/\(tenant)/webhook",
                                           ["url": .string("http://127.0.0.1:\(port)/hook"), "from": "beginning"])
        #expect(putStatus == 201, "\(String(describing: put))")
        let secret = try #require(put?["secret"]?.string)
        #expect(receiver.wait { $0.count >= 2 && receiver.inFlight > 0 })
        sleepMillis(100)
        d.stopRegion("us", kill: true)
        try d.startRegion("us")
        var expected = try Self.pull(d, tenant)
        #expect(expected.count == 60)
        let expectedIDs = ids(expected)
        #expect(receiver.wait(timeoutMillis: 30_000) { _ in Set(ids(Self.acknowledged(receiver))).isSuperset(of: expectedIDs) })

        // The receiver goes away (connection refused) while more changes happen, then comes back on its port.
        receiver.stop()
        let before = Self.acknowledged(receiver)
        for i in 60..<70 {
            #expect(try d.scim(.post, "/scim/v2/Users", token: token, body: userBody("k\(i)@example.com")).status.code == 201)
        }
        #expect(eventually { ((try? d.admin(.get, "/admin/v1/tenants/\(tenant)/webhook").1?["attempts"]?.int) ?? 0) >= 2 })
        let failing = try d.admin(.get, "/admin/v1/tenants/\(tenant)/webhook").1
        #expect(failing?["state"]?.string == "retrying")
        #expect(failing?["lastError"]?.string?.contains("unreachable") == true, "\(String(describing: failing))")
        receiver = try WebhookReceiver(port: port)
        expected = try Self.pull(d, tenant)
        #expect(expected.count == 70)
        #expect(receiver.wait(timeoutMillis: 30_000) { _ in Self.acknowledged(receiver).count >= 10 })

        // Nothing lost; order kept (first appearance follows the stream); duplicates are whole re-sent events.
        let all = before + Self.acknowledged(receiver)
        var firstSeen: [String] = []
        var byID: [String: JSONValue] = [:]
        for event in all {
            let id = event["id"]?.string ?? ""
            if let seen = byID[id] {
                #expect(seen == event, "a redelivered event differs from its first delivery")
            } else {
                byID[id] = event
                firstSeen.append(id)
            }
        }
        #expect(firstSeen == ids(expected))
        // At-least-once: the batch in flight at the kill arrived twice (the receiver had answered it, the region never
        // recorded that), and nothing else did.
        #expect((1...10).contains(all.count - firstSeen.count), "\(all.count - firstSeen.count) duplicates")
        // Every request verifies with the secret the admin API showed once.
        let now = Int64(time(nil))
        for delivery in receiver.deliveries {
            let header = delivery.headers[WebhookSignature.header] ?? ""
            guard case .success = WebhookSignature.verify(header: header, secrets: [secret], body: delivery.body, nowSeconds: now) else {
                Issue.record("signature does not verify: \(header)")
                continue
            }
        }

        // The read API through the gateway, and the audit trail (which never holds the secret).
        var users: [JSONValue] = []
        var after = ""
        repeat {
            let (status, page) = try d.admin(.get, "/admin/v1/tenants/\(tenant)/users?limit=40" + (after.isEmpty ? "" : "&after=\(after)"))
            #expect(status == 200)
            users += page?["users"]?.array ?? []
            after = page?["next"]?.string ?? ""
        } while !after.isEmpty
        #expect(users.count == 70)
        let (_, audit) = try d.admin(.get, "/admin/v1/audit?tenant=\(tenant)")
        let actions = (audit?["entries"]?.array ?? []).compactMap { $0["action"]?.string }
        #expect(actions.contains("webhook.configure"))
        #expect(!String(decoding: (audit ?? .null).encoded(), as: UTF8.self).contains(secret))
        #expect(try d.admin(.get, "/admin/v1/tenants/\(tenant)/events?after=bogus").0 == 400)
        #expect(try d.admin(.get, "/admin/v1/tenants/\(tenant)/groups/not-a-group/members").0 == 404)
    }
}
