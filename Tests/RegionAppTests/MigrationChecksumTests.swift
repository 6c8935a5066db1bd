@testable import Postgres
@testable import RegionSCIM
import Testing

/// Applied migrations are recorded with a checksum and an edited one is refused at start (`Migrator`): their text
/// must never change, whatever helper generates it. Pinned here so a refactoring that changes one byte fails a test
/// instead of a deployment. A new migration adds its line.
@Suite struct MigrationChecksumTests {
    static let pinned: [Int: String] = [
        1: "ccad4f6faba32386", 2: "5f06ff536c6118b5", 3: "8348a2745afd2963", 4: "67acae2fb1dc4c14", 5: "35e2aba0cb9c46e7",
        6: "c97e3f5327ce1dea", 7: "e108e2288a896eb0", 8: "665a90b9a244174f", 9: "c3e3f34189fcced8", 10: "8b5864a69b1856c7",
        11: "17e6a9ef981e459a",
    ]

    @Test func regionMigrationsNeverChange() {
        // Strictly increasing; gaps are allowed (numbers are reserved per branch: 6 request_log, 7-8 roles, 9 tenant_moves, 10 request_log.written_by, 11 write_guard).
        let versions = RegionSchema.migrations.map(\.version)
        #expect(versions == versions.sorted() && Set(versions).count == versions.count && versions.first == 1)
        #expect(Set(versions) == Set(Self.pinned.keys), "every migration pinned, and only those")
        for m in RegionSchema.migrations {
            #expect(m.checksum == Self.pinned[m.version], "migration \(m.version) (\(m.name)) is new or changed: pin \(m.checksum)")
        }
    }

    /// Versions may skip numbers (a branch's migrations numbered after another's not merged yet, as 7 and 8 were
    /// before 6): the migrator applies them in list order across the gap, and a fresh database ends with exactly the
    /// listed versions.
    @Test func migrationsApplyAcrossAGapInTheirNumbers() throws {
        for list in [RegionSchema.migrations, RegionSchema.migrations.filter { $0.version != 6 }] {
            var applied: [Int: String] = [:]
            for m in list {
                #expect(try Migrator.pending(list, applied: applied)?.version == m.version)
                applied[m.version] = m.checksum
            }
            #expect(try Migrator.pending(list, applied: applied) == nil)
        }
        // The shared test database was migrated from empty with the list.
        let admin = try PostgresConnection(configuration: try RegionTestDatabase.get().adminConfiguration)
        let rows = try admin.query("SELECT version FROM schema_migrations ORDER BY version")
        #expect((0..<rows.rowCount).compactMap { rows.int(row: $0, column: 0).map(Int.init) } == RegionSchema.migrations.map(\.version))
    }
}
