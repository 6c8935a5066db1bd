import CivilTime
import Testing

/// The one calendar every timestamp format uses.
@Suite struct CivilDateTests {
    @Test(arguments: [
        (0, 1970, 1, 1), (-1, 1969, 12, 31), (59, 1970, 3, 1), (10_957, 2000, 1, 1), (11_016, 2000, 2, 29),
        (20_792, 2026, 12, 5), (-719_468, 0, 3, 1), (2_932_896, 9999, 12, 31),
    ])
    func knownDates(_ days: Int, _ year: Int, _ month: Int, _ day: Int) {
        #expect(CivilDate.days(year: year, month: month, day: day) == days)
        let c = CivilDate.civil(fromDays: days)
        #expect(c.year == year && c.month == month && c.day == day)
    }

    @Test func everyDayRoundTripsAndFollowsTheDayBefore() {
        var previous = CivilDate.civil(fromDays: -800_001)
        for days in stride(from: -800_000, through: 3_000_000, by: 1) {
            let c = CivilDate.civil(fromDays: days)
            #expect(CivilDate.days(year: c.year, month: c.month, day: c.day) == days)
            if c.day == 1 {
                #expect(previous.day == CivilDate.daysIn(month: previous.month, year: previous.year))
            } else {
                #expect(c.day == previous.day + 1 && c.month == previous.month)
            }
            previous = c
        }
    }

    @Test func leapYearsAndPadding() {
        #expect(CivilDate.isLeap(2000) && CivilDate.isLeap(2024) && !CivilDate.isLeap(1900) && !CivilDate.isLeap(2026))
        #expect(CivilDate.daysIn(month: 2, year: 2024) == 29 && CivilDate.daysIn(month: 2, year: 2026) == 28)
        #expect(CivilDate.pad(7, 2) == "07" && CivilDate.pad(2026, 4) == "2026" && CivilDate.pad(12345, 3) == "12345")
        #expect(CivilDate.floorDivMod(-1, 86_400) == (-1, 86_399))
        #expect(CivilDate.floorDivMod(86_401, 86_400) == (1, 1))
    }
}
