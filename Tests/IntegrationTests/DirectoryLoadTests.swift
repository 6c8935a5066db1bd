#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import Postgres
import Synchronization
import Telemetry
import TestSupport

extension Reliability {
    /// Issue 18: a rule change recomputes every user of a 100k-user tenant in the background, while the tenant's IdP
    /// keeps calling: no 5xx, and its p99 stays within twice what it was before the change. A bounded load on
    /// loopback (four keep-alive connections paced at 40 requests/s each, reads and writes through the gateway),
    /// measured in microseconds; the figures are printed (`grep DIRECTORY`).
    @Suite struct DirectoryLoadTests {
        static let users = 100_000
        static let engineers = 40_000

        /// Loads `count` users (ids `018f0000-0000-7000-8000-<i>`) and makes the first `members` of them members of
        /// `group`, server-side in the region database, as `scripts/load-users.sh` does (triggers and all).
        static func load(_ d: Deployment, tenant: String, count: Int, group: String, members: Int) throws {
            let c = try d.regionAdmin("us")
            for from in stride(from: 1, through: count, by: 25_000) {
                let to = min(from + 24_999, count)
                try c.query(
                    """
                    INSERT INTO users (tenant_id, id, user_name, user_name_key, external_id, display_name, display_name_key, active,
                                       resource, created_at, last_modified)
                    SELECT $1::uuid, ('018f0000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
                           'user' || i || '@load.example', 'user' || i || '@load.example', 'ext-' || i, 'User ' || i, 'user ' || i, true,
                           jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
                                              'userName', 'user' || i || '@load.example', 'displayName', 'User ' || i,
                                              'externalId', 'ext-' || i, 'active', true),
                           date_trunc('milliseconds', now()), date_trunc('milliseconds', now())
                    FROM generate_series($2::bigint, $3::bigint) AS i
                    """, [.uuid(tenant), .int(Int64(from)), .int(Int64(to))])
            }
            try c.query(
                """
                INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
                SELECT $1::uuid, $2::uuid, ('018f0000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'User'
                FROM generate_series(1, $3::bigint) AS i
                """, [.uuid(tenant), .text(group), .int(Int64(members))])
            // One statement each: several in one script run as one transaction, which VACUUM refuses.
            for table in ["users", "group_members", "user_roles"] { try c.executeScript("VACUUM (ANALYZE) \(table)") }
        }

        static func userID(_ i: Int) -> String {
            let hex = String(i, radix: 16)
            return "018f0000-0000-7000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
        }

        static func p99(_ micros: [Int]) -> Int { percentile(micros, 99) }

        @Test func aRuleChangeRecomputes100kUsersWithoutSlowingTheIdP() throws {
            let d = try Deployment.reliability("roles-load")
            defer { d.stop() }
            let t = try DirectoryClient(d, name: "roles-load", region: "us")
            let engineering = try t.group("Engineering")
            let loadStart = monotonicMillis()
            try Self.load(d, tenant: t.id, count: Self.users, group: engineering, members: Self.engineers)
            report("DIRECTORY loaded \(Self.users) users (\(Self.engineers) in Engineering) in \(monotonicMillis() - loadStart) ms")

            // The IdP: four keep-alive connections, 40 requests/s each: 80 % reads of a random user, 20 % PATCHes of
            // one. Latencies in microseconds, tagged with the phase they started in.
            let stop = StopFlag()
            let phase = Atomic<Int>(0)  // 0 warm-up, 1 before the change, 2 while it is recomputed, 3 after
            let samples = Collected<(phase: Int, micros: Int, status: Int)>()
            let traffic = background {
                onThreads(4) { i in
                    let client = SCIMClient(port: d.gateways[0].port, token: t.token)
                    var n = 0
                    var next = Timestamp.monotonicNanos()
                    while !stop.isRaised {
                        n += 1
                        let user = Self.userID(1 + (i * 7919 + n * 104_729) % Self.users)
                        let p = phase.load(ordering: .acquiring)
                        let start = Timestamp.monotonicNanos()
                        let response: HTTPResponse?
                        if n % 5 == 0 {
                            response = client.send(.patch, "/scim/v2/Users/\(user)", body: [
                                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                "Operations": [["op": "replace", "path": "title", "value": .string("Title \(n)")]]]).0
                        } else {
                            response = client.send(.get, "/scim/v2/Users/\(user)").0
                        }
                        samples.append((p, Int((Timestamp.monotonicNanos() - start) / 1000), response?.status.code ?? 0))
                        next += 25_000_000
                        let now = Timestamp.monotonicNanos()
                        if next > now { usleep(UInt32((next - now) / 1000)) } else { next = now }
                    }
                }
            }
            // The baseline lasts about as long as the recompute will (20-40 s here): this shared machine has bursts
            // of its own, and a short quiet window would set a p99 that a longer one cannot match, recompute or not.
            sleepMillis(3000)
            phase.store(1, ordering: .releasing)
            sleepMillis(30_000)
            phase.store(2, ordering: .releasing)
            let changeStart = monotonicMillis()
            let (status, answer) = try t.admin(.put, "roles", [
                "roles": [["key": "editor"], ["key": "viewer"]],
                "rules": [["group": ["displayName": "Engineering"], "role": "editor"]], "defaultRole": "viewer"])
            let answered = monotonicMillis() - changeStart
            #expect(status == 200, "\(answer)")
            let done = try t.waitForRecompute(seconds: 180)
            let recomputeMillis = monotonicMillis() - changeStart
            // The same traffic after the job, as long again as half the baseline: the baseline is both windows
            // without the job, on either side of it, so a burst of other work on this shared machine (in `make test`,
            // other suites run beside this one) weighs on the baseline as it may on the window with the job.
            phase.store(3, ordering: .releasing)
            sleepMillis(15_000)
            stop.raise()
            traffic.join()

            let all = samples.all
            let before = all.filter { $0.phase == 1 || $0.phase == 3 }, during = all.filter { $0.phase == 2 }
            let failed = all.filter { $0.phase > 0 && ($0.status >= 500 || $0.status == 0) }
            let p99Before = Self.p99(before.map(\.micros)), p99During = Self.p99(during.map(\.micros))
            report("DIRECTORY rule change answered in \(answered) ms; recompute of \(done["recompute"]?["processed"]?.int ?? 0) users "
                   + "(\(done["recompute"]?["changed"]?.int ?? 0) changed) done in \(recomputeMillis) ms")
            report("DIRECTORY IdP traffic: without the job (before and after it) \(before.count) requests p50 \(percentile(before.map(\.micros), 50)) µs p99 \(p99Before) µs; "
                   + "during \(during.count) requests p50 \(percentile(during.map(\.micros), 50)) µs p99 \(p99During) µs; "
                   + "ratio \(String(Double(p99During) / Double(max(p99Before, 1))).prefix(4)); failed \(failed.count)")
            #expect(done["recompute"]?["state"] == "done")
            #expect(done["recompute"]?["processed"]?.int == Self.users && done["recompute"]?["total"]?.int == Self.users)
            #expect(failed.isEmpty, "\(failed.prefix(5))")
            #expect(before.count > 3000 && during.count > 200)
            #expect(p99During <= 2 * p99Before, "p99 \(p99Before) µs without the job, \(p99During) µs while 100k users were recomputed")

            // Exactly one roles_changed event per user (every user went from no roles to one), and the right roles.
            let c = try d.regionAdmin("us")
            let counts = try c.query(
                "SELECT count(*), count(DISTINCT resource_id) FROM events WHERE tenant_id = $1 AND type = 'user.roles_changed'", [.uuid(t.id)])
            #expect(counts.int(row: 0, column: 0) == Int64(Self.users) && counts.int(row: 0, column: 1) == Int64(Self.users))
            let roles = try c.query("SELECT array_to_string(roles, ','), count(*) FROM user_roles WHERE tenant_id = $1 GROUP BY 1 ORDER BY 1",
                                    [.uuid(t.id)])
            let byRole = Dictionary(uniqueKeysWithValues: (0..<roles.rowCount).map { (roles.string(row: $0, column: 0) ?? "", roles.int(row: $0, column: 1) ?? 0) })
            #expect(byRole == ["editor": Int64(Self.engineers), "viewer": Int64(Self.users - Self.engineers)])
            #expect(try t.roles(Self.userID(1)) == ["editor"] && t.roles(Self.userID(Self.users)) == ["viewer"])
        }
    }
}
