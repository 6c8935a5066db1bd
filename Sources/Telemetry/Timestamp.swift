#if canImport(Glibc)
import Glibc
#endif
import CivilTime

/// Wall-clock and monotonic time, and the two text forms we emit: ISO 8601 (logs, SCIM `meta`) and IMF-fixdate
/// (HTTP `Date`). The calendar arithmetic is `CivilDate`'s.
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
        let (seconds, millis) = CivilDate.floorDivMod(Int(epochMillis), 1000)
        let (days, secondOfDay) = CivilDate.floorDivMod(seconds, 86_400)
        let (y, mo, d) = CivilDate.civil(fromDays: days)
        return "\(CivilDate.pad(y, 4))-\(CivilDate.pad(mo, 2))-\(CivilDate.pad(d, 2))T\(CivilDate.pad(secondOfDay / 3600, 2)):\(CivilDate.pad((secondOfDay % 3600) / 60, 2))"
            + ":\(CivilDate.pad(secondOfDay % 60, 2)).\(CivilDate.pad(millis, 3))Z"
    }

    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func imfFixdate(epochSeconds: Int) -> String {
        let (days, secondOfDay) = CivilDate.floorDivMod(epochSeconds, 86_400)
        let (y, mo, d) = CivilDate.civil(fromDays: days)
        let weekday = weekdays[CivilDate.floorDivMod(days, 7).remainder]
        return "\(weekday), \(CivilDate.pad(d, 2)) \(months[mo - 1]) \(y) \(CivilDate.pad(secondOfDay / 3600, 2)):"
            + "\(CivilDate.pad((secondOfDay % 3600) / 60, 2)):\(CivilDate.pad(secondOfDay % 60, 2)) GMT"
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
