import Postgres
@testable import RegionSCIM
import Testing

/// Applied migrations are recorded with a checksum and an edited one is refused at start (`Migrator`): their text
/// must never change, whatever helper generates it. Pinned here so a refactoring that changes one byte fails a test
/// instead of a deployment. A new migration adds its line.
@Suite struct MigrationChecksumTests {
    static let pinned: [Int: String] = [
        1: "ccad4f6faba32386", 2: "5f06ff536c6118b5", 3: "8348a2745afd2963", 4: "67acae2fb1dc4c14", 5: "35e2aba0cb9c46e7",
        6: "c97e3f5327ce1dea", 9: "c3e3f34189fcced8", 10: "8b5864a69b1856c7",
    ]

    @Test func regionMigrationsNeverChange() {
        // Strictly increasing; gaps are allowed (numbers are reserved per branch: 6 request_log, 7-8 roles, 9 tenant_moves, 10 request_log.written_by).
        let versions = RegionSchema.migrations.map(\.version)
        #expect(versions == versions.sorted() && Set(versions).count == versions.count && versions.first == 1)
        #expect(Set(versions) == Set(Self.pinned.keys), "every migration pinned, and only those")
        for m in RegionSchema.migrations {
            #expect(m.checksum == Self.pinned[m.version], "migration \(m.version) (\(m.name)) is new or changed: pin \(m.checksum)")
        }
    }
}
