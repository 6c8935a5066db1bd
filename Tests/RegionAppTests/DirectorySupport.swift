import Glibc
import HTTPCore
import JSON
import Postgres
@testable import RegionApp
@testable import RegionSCIM
@testable import RegionEvents
import Telemetry
import TestSupport
import Testing

/// Helpers for the directory tests (roles, attribute mapping, snapshots): the recompute job run in-process, and the
/// state as the read API shows it.
extension Tenant {
    /// `PUT roles` (expects 200) and runs the recompute job to its end.
    @discardableResult
    func setRoles(_ body: String, sourceLocation: SourceLocation = #_sourceLocation) -> JSONValue {
        let response = internalCall(.put, "roles", body)
        #expect(response.status.code == 200, "\(response.bodyText)", sourceLocation: sourceLocation)
        recompute()
        return response.json
    }

    /// Runs this tenant's pending recompute job to its end, as the region's worker would.
    func recompute() {
        let worker = DirectoryRecompute(database: region.responder.service.database, logger: Logger(label: "test", level: .error),
                                        batchSize: 50, pauseRatio: 0)
        do { try worker.runNow(tenant: id) } catch { Issue.record("recompute failed: \(error)") }
    }

    /// The effective roles of a user, from the read API.
    func roles(_ user: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        let response = internalCall(.get, "users/\(user)")
        #expect(response.status.code == 200, "\(response.bodyText)", sourceLocation: sourceLocation)
        return (response.json["effectiveRoles"]?.array ?? []).compactMap(\.string)
    }

    /// Every event after `cursor` of every transaction committed before this call, and the cursor after them. An
    /// event is held back while an older write transaction (any test's) is open, so this first takes a transaction
    /// id (later than every write that finished before) and waits until the feed's position has passed it.
    func settledEvents(after cursor: String?, sourceLocation: SourceLocation = #_sourceLocation) -> (events: [JSONValue], next: String) {
        let barrier: UInt64
        do {
            let connection = try PostgresConnection(configuration: try RegionTestDatabase.get().appConfiguration)
            barrier = UInt64(try connection.query("SELECT pg_current_xact_id()::text").string(row: 0, column: 0) ?? "") ?? 0
        } catch {
            Issue.record("no barrier: \(error)", sourceLocation: sourceLocation)
            return ([], cursor ?? "")
        }
        let deadline = monotonicMillis() + 15_000
        while true {
            let result = allEvents(after: cursor)
            if (EventCursor(text: result.next)?.position.xid ?? 0) >= barrier { return result }
            if monotonicMillis() > deadline {
                Issue.record("events did not settle", sourceLocation: sourceLocation)
                return result
            }
            sleepMillis(20)
        }
    }

    /// Every `user.roles_changed` event after `cursor`: (user id, before, after).
    func roleEvents(after cursor: String?) -> [(user: String, before: [String], after: [String])] {
        settledEvents(after: cursor).events.filter { $0["type"]?.string == "user.roles_changed" }.map { e in
            (e["data"]?["user"]?["id"]?.string ?? "", (e["data"]?["before"]?.array ?? []).compactMap(\.string),
             (e["data"]?["after"]?.array ?? []).compactMap(\.string))
        }
    }

    /// The feed's current end (a cursor after every event written so far).
    func eventCursor() -> String { settledEvents(after: nil).next }

    /// Adds members to a group with a PATCH (expects success).
    func addMembers(_ group: String, _ users: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let values = users.map { #"{"value":"\#($0)"}"# }.joined(separator: ",")
        let response = send(.patch, "/Groups/\(group)", patchOp(#"{"op":"add","path":"members","value":[\#(values)]}"#))
        #expect([200, 204].contains(response.status.code), "\(response.bodyText)", sourceLocation: sourceLocation)
    }

    /// Removes members from a group with a PATCH (expects success).
    func removeMembers(_ group: String, _ users: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let values = users.map { #"{"value":"\#($0)"}"# }.joined(separator: ",")
        let response = send(.patch, "/Groups/\(group)", patchOp(#"{"op":"remove","path":"members","value":[\#(values)]}"#))
        #expect([200, 204].contains(response.status.code), "\(response.bodyText)", sourceLocation: sourceLocation)
    }
}
