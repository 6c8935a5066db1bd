#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock and monotonic time, and the two text forms we emit: ISO 8601 (logs, SCIM `meta`) and IMF-fixdate
/// (HTTP `Date`). Calendar arithmetic is done here, without Foundation, once for the whole code base.
public enum Timestamp {
    /// Milliseconds since the Unix epoch (wall clock).
    public static func nowEpochMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Monotonic nanoseconds, for durations and deadlines.
    public static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// `2026-11-23T07:00:00.123Z`
    public static func iso8601(epochMillis: Int64) -> String {
        let (seconds, millis) = floorDivMod(Int(epochMillis), 1000)
        let (days, secondOfDay) = floorDivMod(seconds, 86_400)
        let (y, mo, d) = civil(fromDays: days)
        return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):\(pad((secondOfDay % 3600) / 60, 2))"
            + ":\(pad(secondOfDay % 60, 2)).\(pad(millis, 3))Z"
    }

    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func imfFixdate(epochSeconds: Int) -> String {
        let (days, secondOfDay) = floorDivMod(epochSeconds, 86_400)
        let (y, mo, d) = civil(fromDays: days)
        let weekday = weekdays[floorDivMod(days, 7).1]
        return "\(weekday), \(pad(d, 2)) \(months[mo - 1]) \(y) \(pad(secondOfDay / 3600, 2)):"
            + "\(pad((secondOfDay % 3600) / 60, 2)):\(pad(secondOfDay % 60, 2)) GMT"
    }

    /// Days since 1970-01-01 → (year, month 1...12, day 1...31) (Howard Hinnant's `civil_from_days`).
    public static func civil(fromDays z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func floorDivMod(_ a: Int, _ b: Int) -> (Int, Int) {
        var q = a / b
        var r = a % b
        if r < 0 { r += b; q -= 1 }
        return (q, r)
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

extension Duration {
    /// Whole nanoseconds; negative durations count as zero (deadlines and timeouts are never negative).
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// Whole milliseconds (rounded toward zero).
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
