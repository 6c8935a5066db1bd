@testable import RegionEvents
import Testing

/// The events cursor a reconciliation snapshot hands out (pure): its wire form, and which transactions it skips.
@Suite struct EventCursorTests {
    @Test func snapshotTextRoundTripsAndRefusesNonsense() throws {
        let snapshot = try #require(EventSnapshot(text: "100:120:103,117"))
        #expect(snapshot.text == "100:120:103,117")
        #expect(EventSnapshot(text: "100:120:") == EventSnapshot(xmin: 100, xmax: 120, xip: []))
        for bad in ["", "1:2", "2:1:", "100:120:99", "100:120:120", "100:120:110,105", "a:b:", "100:120:1x"] {
            #expect(EventSnapshot(text: bad) == nil, "\(bad)")
        }
    }

    @Test(arguments: [(UInt64(99), true), (100, true), (103, false), (110, true), (117, false), (119, true), (120, false), (500, false)])
    func visibilityIsPostgresqls(xid: UInt64, visible: Bool) throws {
        // xmin 100 (every older transaction finished), xmax 120, 103 and 117 in progress when it was taken.
        let snapshot = try #require(EventSnapshot(text: "100:120:103,117"))
        #expect(snapshot.isVisible(xid) == visible)
    }

    @Test func cursorsRoundTripAndForgetTheSnapshotOncePastIt() throws {
        let snapshot = try #require(EventSnapshot(text: "100:120:103,117"))
        let start = EventCursor(after: snapshot)
        #expect(start.position == EventPosition(xid: 100, seq: 0) && start.snapshot == snapshot)
        #expect(start.text.hasPrefix("s"))
        #expect(EventCursor(text: start.text) == start)
        let inside = EventCursor(position: EventPosition(xid: 117, seq: 9), snapshot: snapshot)
        #expect(EventCursor(text: inside.text) == inside && inside.snapshot != nil)
        let past = EventCursor(position: EventPosition(xid: 120, seq: 0), snapshot: snapshot)
        #expect(past.snapshot == nil && past.text == EventPosition(xid: 120, seq: 0).cursor)
        // A plain position still parses; garbage does not.
        #expect(EventCursor(text: EventPosition(xid: 7, seq: 3).cursor)?.position == EventPosition(xid: 7, seq: 3))
        for bad in ["", "s", "sAAAA", "x" + start.text.dropFirst(), "s!!", String(start.text.dropLast(4))] {
            #expect(EventCursor(text: bad) == nil, "\(bad)")
        }
    }

    @Test func sequencesCompareAsTheirPositionsDo() {
        let positions = [EventPosition(xid: 9, seq: 500), EventPosition(xid: 10, seq: 2), EventPosition(xid: 10, seq: 11),
                         EventPosition(xid: 1_000_000, seq: 1), EventPosition(xid: UInt64.max, seq: Int64.max)]
        let sequences = positions.map(\.sequence)
        #expect(sequences.allSatisfy { $0.count == 40 && $0.allSatisfy(\.isNumber) })
        #expect(sequences == sequences.sorted())
        #expect(EventPosition(xid: 10, seq: 11).sequence == "0000000000000000001000000000000000000011")
    }
}
