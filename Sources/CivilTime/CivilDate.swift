/// Proleptic Gregorian calendar arithmetic on days since 1970-01-01, without Foundation: the one copy that log
/// timestamps, HTTP dates, SCIM `meta` times, filter instants and PostgreSQL timestamps all use. The day/date
/// conversions are Howard Hinnant's public-domain algorithms (https://howardhinnant.github.io/date_algorithms.html).
public enum CivilDate {
    /// Days since 1970-01-01 for (year, month 1...12, day 1...31).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = (month + 9) % 12
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Days since 1970-01-01 → (year, month 1...12, day 1...31).
    public static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    /// 28 to 31.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Floor division and its non-negative remainder (`-1 / 86400` is day -1, second 86399).
    public static func floorDivMod(_ a: Int, _ b: Int) -> (quotient: Int, remainder: Int) {
        var q = a / b
        var r = a % b
        if r < 0 {
            r += b
            q -= 1
        }
        return (q, r)
    }

    /// `value` in decimal, zero-padded to `width` digits (`2026`, `07`, `005`).
    public static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
