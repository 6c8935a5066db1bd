import HTTPCore
import JSON
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import Testing

/// Concurrency: uniqueness comes from constraints, membership changes from single statements.
@Suite struct RaceTests {
    let region: Region
    init() throws { region = try Region(poolSize: 20) }

    @Test func twentyConcurrentPostsOfOneUserNameGiveOne201AndNineteen409() throws {
        let t = region.tenant()
        let statuses = Collected<Int>()
        let ids = Collected<String>()
        onThreads(20) { i in
            // Different case on every request: the constraint is case-insensitive.
            let name = i % 2 == 0 ? "race@example.com" : "RACE@example.com"
            let response = t.send(.post, "/Users", #"{"userName":"\#(name)","active":true,"externalId":"ext-\#(i)"}"#)
            statuses.append(response.status.code)
            if let id = response.json["id"]?.string { ids.append(id) }
        }
        #expect(statuses.all.filter { $0 == 201 }.count == 1)
        #expect(statuses.all.filter { $0 == 409 }.count == 19)
        #expect(t.ids("/Users") == ids.all)
    }

    @Test func twentyConcurrentPostsOfADeactivatedUsersNameAreAllConflicts() throws {
        let t = region.tenant()
        let id = t.user("again@example.com", #","active":false"#)
        let statuses = Collected<Int>()
        onThreads(20) { _ in
            statuses.append(t.send(.post, "/Users", #"{"userName":"again@example.com","active":true}"#).status.code)
        }
        #expect(statuses.all == Array(repeating: 409, count: 20))
        #expect(t.ids("/Users") == [id])
        #expect(t.send(.get, "/Users/\(id)").json["active"] == false)
    }

    @Test func twentyConcurrentPostsOfOneNewUserNameCreateOneUser() throws {
        let t = region.tenant()
        let statuses = Collected<Int>()
        onThreads(20) { _ in
            statuses.append(t.send(.post, "/Users", #"{"userName":"once@example.com","externalId":"same"}"#).status.code)
        }
        #expect(statuses.all.filter { $0 == 201 }.count == 1)
        #expect(statuses.all.filter { $0 == 409 }.count == 19)
        #expect(t.ids("/Users").count == 1)
    }

    @Test func twentyConcurrentMemberAddsToOneGroupAllLand() throws {
        let t = region.tenant()
        let users = (0..<20).map { t.user("member\($0)@example.com") }
        let g = t.group("Concurrent")
        let statuses = Collected<Int>()
        onThreads(20) { i in
            let response = t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"add","path":"members","value":[{"value":"\#(users[i])"}]}"#))
            statuses.append(response.status.code)
        }
        #expect(statuses.all == Array(repeating: 200, count: 20))
        let members = t.send(.get, "/Groups/\(g)").json["members"]?.array?.compactMap { $0["value"]?.string } ?? []
        #expect(Set(members) == Set(users))
        #expect(members.count == 20)
        // Every add changed the group: version 1 + 20.
        #expect(t.send(.get, "/Groups/\(g)").json["meta"]?["version"] == "W/\"21\"")
    }

    @Test func concurrentAddsAndRemovesOfDifferentMembersLoseNothing() throws {
        let t = region.tenant()
        let keep = (0..<10).map { t.user("keep\($0)@example.com") }
        let drop = (0..<10).map { t.user("drop\($0)@example.com") }
        let g = t.group("Mixed", #","members":[\#(drop.map { #"{"value":"\#($0)"}"# }.joined(separator: ","))]"#)
        onThreads(20) { i in
            if i < 10 {
                t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"add","path":"members","value":[{"value":"\#(keep[i])"}]}"#))
            } else {
                t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"remove","path":"members[value eq \"\#(drop[i - 10])\"]"}"#))
            }
        }
        let members = t.send(.get, "/Groups/\(g)").json["members"]?.array?.compactMap { $0["value"]?.string } ?? []
        #expect(Set(members) == Set(keep))
    }

    @Test func deletingAUserWhileItIsBeingAddedLeavesNoDanglingMember() throws {
        let t = region.tenant()
        for round in 0..<5 {
            let u = t.user("flicker\(round)@example.com")
            let g = t.group("Flicker \(round)")
            onThreads(2) { i in
                if i == 0 {
                    t.send(.patch, "/Groups/\(g)", patchOp(#"{"op":"add","path":"members","value":[{"value":"\#(u)"}]}"#))
                } else {
                    t.send(.delete, "/Users/\(u)")
                }
            }
            #expect(t.send(.get, "/Users/\(u)").status.code == 404)
            #expect(t.send(.get, "/Groups/\(g)").json["members"] == nil, "round \(round)")
        }
    }
}
