#if canImport(Glibc)
import Glibc
#endif
import Testing
import HTTPCore
import JSON
import NetIO
import RegionLink
import ServerRuntime
import Telemetry
import Locking
import TestSupport
@testable import GatewayApp

/// Region replica sets in-process: the proxy against several fake replicas on loopback (real sockets, real pools),
/// and the watcher that changes a set while requests are in flight.
@Suite(.serialized) struct ReplicaSetTests {
    @Test(arguments: [
        ([0, 0, 0], 0, [0, 1, 2]), ([0, 0, 0], 1, [1, 2, 0]), ([0, 0, 0], 5, [2, 0, 1]),
        ([3, 0, 1], 0, [1, 2, 0]), ([2, 2, 0], 1, [2, 1, 0]), ([1], 7, [0]), ([], 3, []), ([0, 0], -1, [1, 0]),
    ])
    func leastLoadedFirstThenInTurn(_ loads: [Int], _ start: Int, _ expected: [Int]) {
        #expect(ReplicaSet.order(loads: loads, start: start) == expected)
    }

    /// Which fake replica saw requests for `path`.
    static func counts(_ f: ProxyFixture, path: String) -> [Int] {
        f.replicas.map { fake in fake.requests.filter { $0.0.path == path }.count }
    }

    @Test func idleReplicasShareTheTraffic() throws {
        let f = try ProxyFixture("replicas_share", usReplicas: 2)
        let (_, token) = try f.tenant("acme")
        for _ in 0..<20 { #expect(f.send(.get, "/scim/v2/Users/ok", token: token)?.response.status.code == 200) }
        let seen = Self.counts(f, path: "/scim/v2/Users/ok")
        #expect(seen.reduce(0, +) == 20)
        #expect(seen.allSatisfy { $0 >= 8 }, "one replica took almost everything: \(seen)")
    }

    @Test func aBusyReplicaGetsNoNewRequestsWhileAnotherIsFree() throws {
        let f = try ProxyFixture("replicas_least", usReplicas: 2)
        let (_, token) = try f.tenant("acme")
        let slowReply = CapturedReply()
        var slow = HTTPRequest(method: .get, target: "/scim/v2/Users/slow", headers: ["Host": "127.0.0.1"])
        slow.headers.add("Authorization", "Bearer \(token)")
        f.proxy.respond(to: slow, context: RequestContext(remoteAddress: "127.0.0.1", connectionID: 1, isTLS: false, receivedAtNanos: 0),
                        reply: slowReply)
        let busy = try #require((0..<2).first { i in
            (0..<100).contains { _ in Self.counts(f, path: "/scim/v2/Users/slow")[i] == 1 || { usleep(10_000); return false }() }
        })
        for _ in 0..<8 { #expect(f.send(.get, "/scim/v2/Users/ok", token: token)?.response.status.code == 200) }
        let seen = Self.counts(f, path: "/scim/v2/Users/ok")
        #expect(seen[busy] == 0 && seen[1 - busy] == 8, "requests went to the busy replica: \(seen)")
        #expect(slowReply.wait()?.response.status.code == 200)
    }

    @Test func aReplicaThatRefusesConnectionsCostsNoRequest() throws {
        var link = RegionLinkSettings()
        link.breakerFailures = 3
        link.breakerOpenDuration = .seconds(30)
        let dead = 1  // nothing listens on port 1 (a port found free and released could be taken again meanwhile)
        let f = try ProxyFixture("replicas_refused", link: link, extraUSBackends: ["http://127.0.0.1:\(dead)"])
        let (_, token) = try f.tenant("acme")
        var statuses: [Int] = []
        for i in 0..<30 {
            let answer = i % 3 == 0
                ? f.send(.post, "/scim/v2/Users", token: token, headers: [("Content-Type", "application/scim+json")])
                : f.send(.get, "/scim/v2/Users/ok", token: token)
            statuses.append(answer?.response.status.code ?? 0)
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        #expect(f.region.requests.count == 30)
        // The dead replica's breaker opened after its failures: it is not even tried any more.
        let deadReplica = try #require(f.usReplica(dead))
        #expect(deadReplica.breaker.state == .open)
        let rerouted = f.metrics.registry.render()
        #expect(rerouted.contains(#"scim_gateway_region_rerouted_total{region="us",kind="connectFailed"} 3"#), "\(rerouted)")
    }

    @Test func aWriteInFlightOnAReplicaThatDiesGets503AndIsNeverSentAgain() throws {
        let silent = try SilentListener()
        defer { silent.close() }
        let f = try ProxyFixture("replicas_inflight", extraUSBackends: ["http://127.0.0.1:\(silent.port)"])
        let (_, token) = try f.tenant("acme")
        // Only the silent replica is admitted while the POST is sent.
        let live = try #require(f.usReplica(f.server.port))
        live.breaker.probe(up: false, now: Timestamp.monotonicNanos())
        let reply = CapturedReply()
        var post = HTTPRequest(method: .post, target: "/scim/v2/Users", headers: ["Host": "127.0.0.1", "Content-Type": "application/scim+json"],
                               body: Array(#"{"userName":"x@example.com"}"#.utf8))
        post.headers.add("Authorization", "Bearer \(token)")
        f.proxy.respond(to: post, context: RequestContext(remoteAddress: "127.0.0.1", connectionID: 1, isTLS: false, receivedAtNanos: 0),
                        reply: reply)
        #expect((0..<200).contains { _ in silent.accepted == 1 || { usleep(10_000); return false }() })
        usleep(100_000)
        // The other replica is healthy again when the one holding the POST dies: the POST must not go there.
        live.breaker.probe(up: true, now: Timestamp.monotonicNanos())
        silent.close()
        let answer = try #require(reply.wait())
        #expect(answer.response.status.code == 503)
        #expect(answer.response.headers["Retry-After"] == "5")
        #expect(f.region.requests.isEmpty)
        #expect(f.send(.get, "/scim/v2/Users/ok", token: token)?.response.status.code == 200)
    }

    @Test func replicasJoinAndLeaveWithoutARestartWhileRequestsFinish() throws {
        let f = try ProxyFixture("replicas_reload", usReplicas: 2)
        let (_, token) = try f.tenant("acme")
        let dir = makeTemporaryDirectory("regions-reload")
        let ports = f.servers.map(\.port)
        func write(_ us: [Int]) {
            let urls = us.map { "\"http://127.0.0.1:\($0)\"" }.joined(separator: ",")
            writeFile(dir + "/us.json", """
                {"id":"us","publicBaseURL":"https://api.example.com/scim/v2","publicHosts":["api.example.com"],
                 "backendURLs":[\(urls)],"listen":"127.0.0.1:8081","database":{"url":"postgresql://scim@127.0.0.1/scim_us"}}
                """)
            writeFile(dir + "/eu2.json", """
                {"id":"eu2","displayName":"Europe (Frankfurt)","publicBaseURL":"https://eu2-api.example.com/scim/v2",
                 "publicHosts":["eu2-api.example.com"],"backendURL":"http://127.0.0.1:\(ports[0])","listen":"127.0.0.1:8082",
                 "database":{"url":"postgresql://scim@127.0.0.1/scim_eu2"}}
                """)
        }
        let logs = LogSink.memory()
        let logger = Logger(label: "watcher", level: .info, sink: logs)
        let health = RegionHealth(directory: f.directory, interval: .seconds(60), logger: logger)
        let watcher = RegionsWatcher(directory: f.directory, health: health, regionsDirectory: dir, flagOverrides: [:],
                                     overridesFile: nil, interval: .seconds(60), retireAfter: .seconds(30), logger: logger)
        defer { for replica in f.directory.allReplicas { health.stopProbing(replica) } }
        let us = f.directory.routes["us"]!.replicas

        // The fixture started with both; the file names only the first: the second leaves.
        write([ports[0]])
        #expect(watcher.check(reason: "test") == (added: 0, removed: 1))
        #expect(us.members.map(\.backend.port) == [ports[0]])
        for _ in 0..<4 { #expect(f.send(.get, "/scim/v2/Users/ok", token: token)?.response.status.code == 200) }
        #expect(Self.counts(f, path: "/scim/v2/Users/ok") == [4, 0])

        // It joins again: probed before it gets traffic, then shares it.
        write([ports[0], ports[1]])
        #expect(watcher.check(reason: "test") == (added: 1, removed: 0))
        #expect(us.members.map(\.backend.port) == ports)
        #expect(us.members[1].probedUp == true)
        for _ in 0..<10 { #expect(f.send(.get, "/scim/v2/Users/ok", token: token)?.response.status.code == 200) }
        #expect(Self.counts(f, path: "/scim/v2/Users/ok")[1] >= 4)

        // A slow request is in flight on the second when it is removed: it finishes there, with its answer; the
        // replica is closed only afterwards, and new requests go to the first.
        us.members[0].breaker.probe(up: false, now: Timestamp.monotonicNanos())
        let slowReply = CapturedReply()
        var slow = HTTPRequest(method: .get, target: "/scim/v2/Users/slow", headers: ["Host": "127.0.0.1"])
        slow.headers.add("Authorization", "Bearer \(token)")
        f.proxy.respond(to: slow, context: RequestContext(remoteAddress: "127.0.0.1", connectionID: 1, isTLS: false, receivedAtNanos: 0),
                        reply: slowReply)
        #expect((0..<100).contains { _ in Self.counts(f, path: "/scim/v2/Users/slow")[1] == 1 || { usleep(10_000); return false }() })
        us.members[0].breaker.probe(up: true, now: Timestamp.monotonicNanos())
        write([ports[0]])
        #expect(watcher.check(reason: "test") == (added: 0, removed: 1))
        #expect(watcher.retiringCount == 1)
        let before = Self.counts(f, path: "/scim/v2/Users/ok")
        for _ in 0..<4 { #expect(f.send(.get, "/scim/v2/Users/ok", token: token)?.response.status.code == 200) }
        #expect(Self.counts(f, path: "/scim/v2/Users/ok") == [before[0] + 4, before[1]])
        #expect(slowReply.wait()?.response.status.code == 200)
        watcher.closeRetired()
        #expect(watcher.retiringCount == 0)

        // A broken file changes nothing (and says why, once).
        writeFile(dir + "/us.json", "{ not json")
        #expect(watcher.check(reason: "test") == (added: 0, removed: 0))
        #expect(watcher.check(reason: "test") == (added: 0, removed: 0))
        #expect(us.members.map(\.backend.port) == [ports[0]])
        let text = logs.lines.joined(separator: "\n")
        #expect(logs.lines.filter { $0.contains("regions configuration not applied") }.count == 1, "\(text)")
        #expect(text.contains("region replica set changed"))
    }

    @Test func overridesParseSeveralReplicasPerRegion() throws {
        let parsed = try RegionBackendOverrides.parse("us=http://127.0.0.1:8081|http://127.0.0.1:8083,eu2=dns+http://region-eu2:8082")
        #expect(parsed["us"] == [RegionBackend(host: "127.0.0.1", port: 8081), RegionBackend(host: "127.0.0.1", port: 8083)])
        #expect(parsed["eu2"] == [RegionBackend(host: "region-eu2", port: 8082, resolvesAll: true)])
        #expect(try RegionBackendOverrides.parse("us=http://a:1\neu2=http://b:2\n").count == 2)
        #expect(try RegionBackendOverrides.parse("").isEmpty)
        for (bad, message) in [("us", "expects id=url pairs"), ("us=http://a:1,us=http://b:1", "names region 'us' twice"),
                               ("us=http://a:1|", "'' for region 'us' must be"), ("us=https://a:1", "must be http://host:port"),
                               ("us=http://a:1|http://a:1", "lists http://a:1 twice")] {
            do {
                _ = try RegionBackendOverrides.parse(bad)
                Issue.record("\(bad) was accepted")
            } catch {
                #expect(error.description.contains(message), "\(error.description)")
            }
        }
    }

    @Test func aDNSNameBecomesOneReplicaPerAddress() throws {
        let loop = UpstreamLoop(name: "dns-test", threads: 1)
        defer { loop.shutdown() }
        let regions = try RegionConfiguration.loadAll(directory: Deployment.repositoryRoot + "/Regions")
        let answers = LockedAnswers(["region-us.internal": ["10.0.0.5", "10.0.0.6"]])
        let directory = try RegionDirectory(regions: regions,
                                            backendOverrides: RegionBackendOverrides.parse("us=dns+http://region-us.internal:8081"),
                                            loop: loop, settings: RegionLinkSettings(), lookup: { answers.get($0) })
        let us = directory.routes["us"]!.replicas
        #expect(us.members.map(\.name) == ["10.0.0.5:8081", "10.0.0.6:8081"])
        let kept = us.members[1]
        // The name now resolves differently: one address gone, one new; the one that stayed is the same replica.
        answers.set("region-us.internal", ["10.0.0.6", "10.0.0.7"])
        let change = directory.update(region: "us", to: [RegionBackend(host: "region-us.internal", port: 8081, resolvesAll: true)],
                                      prepare: { _ in })
        #expect(change.added.map(\.name) == ["10.0.0.7:8081"] && change.removed.map(\.name) == ["10.0.0.5:8081"])
        #expect(us.members[0] === kept)
        // It stops resolving: the replicas it had stay.
        answers.set("region-us.internal", nil)
        let failed = directory.update(region: "us", to: [RegionBackend(host: "region-us.internal", port: 8081, resolvesAll: true)],
                                      prepare: { _ in })
        #expect(failed.unresolved.count == 1 && failed.removed.isEmpty)
        #expect(us.members.map(\.name) == ["10.0.0.6:8081", "10.0.0.7:8081"])
        // And the real resolver gives loopback for localhost.
        #expect(try AddressLookup.addresses(of: "localhost").contains("127.0.0.1"))
        #expect(try AddressLookup.addresses(of: "127.0.0.2") == ["127.0.0.2"])
    }
}

/// Name → addresses, changed by a test while a directory looks them up.
final class LockedAnswers: @unchecked Sendable {
    // @unchecked: `answers` is a ConditionLock.
    private let answers: ConditionLock<[String: [String]]>
    init(_ initial: [String: [String]]) { answers = ConditionLock(initial) }
    func get(_ name: String) -> [String]? { answers.withLock { $0[name] } }
    func set(_ name: String, _ value: [String]?) { answers.withLock { $0[name] = value } }
}

/// Writes a file in one step (a reader never sees half of it).
func writeFile(_ path: String, _ text: String) {
    let f = fopen(path + ".tmp", "w")!
    fputs(text, f)
    fclose(f)
    rename(path + ".tmp", path)
}
