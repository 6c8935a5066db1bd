import CivilTime

/// An instant with microsecond precision, as PostgreSQL's `timestamptz` stores it.
///
/// Pure value type; its calendar arithmetic (proleptic Gregorian, UTC) is `CivilDate`'s, so the module needs no
/// Foundation `Date` on the query path.
public struct PostgresTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Microseconds since 1970-01-01 00:00:00 UTC.
    public var microsecondsSinceEpoch: Int64

    /// An instant from microseconds since the Unix epoch.
    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    /// An instant from whole seconds plus microseconds since the Unix epoch.
    public init(secondsSinceEpoch: Int64, microseconds: Int64 = 0) {
        self.microsecondsSinceEpoch = secondsSinceEpoch * 1_000_000 + microseconds
    }

    /// A UTC calendar date and time; nil if a field is out of range.
    public init?(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, microsecond: Int = 0) {
        guard (1...12).contains(month), (1...CivilDate.daysIn(month: month, year: year)).contains(day),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second),
            (0...999_999).contains(microsecond)
        else { return nil }
        let days = Int64(CivilDate.days(year: year, month: month, day: day))
        let seconds = days * 86_400 + Int64(hour) * 3_600 + Int64(minute) * 60 + Int64(second)
        self.microsecondsSinceEpoch = seconds * 1_000_000 + Int64(microsecond)
    }

    public static func < (lhs: PostgresTimestamp, rhs: PostgresTimestamp) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    /// The UTC calendar fields.
    public var components: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, microsecond: Int) {
        let micros = microsecondsSinceEpoch
        // Floor division so instants before 1970 land on the right day.
        var days = micros / 86_400_000_000
        var rest = micros % 86_400_000_000
        if rest < 0 {
            days -= 1
            rest += 86_400_000_000
        }
        let (year, month, day) = CivilDate.civil(fromDays: Int(days))
        let secondOfDay = rest / 1_000_000
        return (
            Int(year), Int(month), Int(day), Int(secondOfDay / 3_600), Int(secondOfDay / 60 % 60),
            Int(secondOfDay % 60), Int(rest % 1_000_000)
        )
    }

    /// `2024-05-06T07:08:09.123Z` (RFC 3339, UTC; fraction only when non-zero, 3 or 6 digits).
    public var iso8601: String {
        let c = components
        // Every resource's `meta` carries two of these, so a list page formats hundreds: written digit by digit into
        // one buffer (the padded-string version below cost a tenth of the region's CPU per listed user).
        guard (0...9999).contains(c.year) else { return Self.iso8601Padded(c) }
        let fraction = c.microsecond == 0 ? 0 : (c.microsecond % 1_000 == 0 ? 3 : 6)
        return String(unsafeUninitializedCapacity: 20 + (fraction == 0 ? 0 : fraction + 1)) { buffer in
            var at = 0
            func digits(_ value: Int, _ width: Int, then separator: UInt8?) {
                var value = value
                var index = at + width - 1
                while index >= at {
                    buffer[index] = UInt8(truncatingIfNeeded: 48 + value % 10)
                    value /= 10
                    index -= 1
                }
                at += width
                if let separator {
                    buffer[at] = separator
                    at += 1
                }
            }
            digits(c.year, 4, then: UInt8(ascii: "-"))
            digits(c.month, 2, then: UInt8(ascii: "-"))
            digits(c.day, 2, then: UInt8(ascii: "T"))
            digits(c.hour, 2, then: UInt8(ascii: ":"))
            digits(c.minute, 2, then: UInt8(ascii: ":"))
            digits(c.second, 2, then: fraction == 0 ? nil : UInt8(ascii: "."))
            if fraction == 3 { digits(c.microsecond / 1_000, 3, then: nil) }
            if fraction == 6 { digits(c.microsecond, 6, then: nil) }
            buffer[at] = UInt8(ascii: "Z")
            return at + 1
        }
    }

    /// `iso8601` for years outside 0…9999 (never stored by us; kept exact for any input).
    static func iso8601Padded(_ c: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, microsecond: Int)) -> String {
        var text = CivilDate.pad(c.year, 4) + "-" + CivilDate.pad(c.month, 2) + "-" + CivilDate.pad(c.day, 2) + "T"
        text += CivilDate.pad(c.hour, 2) + ":" + CivilDate.pad(c.minute, 2) + ":" + CivilDate.pad(c.second, 2)
        if c.microsecond != 0 {
            text += c.microsecond % 1_000 == 0 ? "." + CivilDate.pad(c.microsecond / 1_000, 3) : "." + CivilDate.pad(c.microsecond, 6)
        }
        return text + "Z"
    }

    public var description: String { iso8601 }

    /// The text PostgreSQL accepts for `timestamptz` input: `2024-05-06 07:08:09.123456+00`.
    var postgresText: String {
        let c = components
        // Year 0 and before is "BC" in PostgreSQL (there is no year 0: 0 is 1 BC).
        let bc = c.year <= 0
        let year = bc ? 1 - c.year : c.year
        var text = CivilDate.pad(year, 4) + "-" + CivilDate.pad(c.month, 2) + "-" + CivilDate.pad(c.day, 2) + " "
        text += CivilDate.pad(c.hour, 2) + ":" + CivilDate.pad(c.minute, 2) + ":" + CivilDate.pad(c.second, 2)
        text += "." + CivilDate.pad(c.microsecond, 6) + "+00"
        return bc ? text + " BC" : text
    }

    /// Parses PostgreSQL's ISO output (`YYYY-MM-DD HH:MM:SS[.ffffff][+-HH[:MM[:SS]]][ BC]`); also
    /// accepts `T` between date and time and `Z`. Nil for `infinity` and anything malformed.
    public init?(postgresText bytes: UnsafeRawBufferPointer) {
        var reader = ByteReader(bytes)
        guard let yearDigits = reader.digits(min: 4, max: 9), reader.take(UInt8(ascii: "-")),
            let month = reader.digits(min: 2, max: 2), reader.take(UInt8(ascii: "-")),
            let day = reader.digits(min: 2, max: 2)
        else { return nil }
        var hour = 0, minute = 0, second = 0, micro = 0
        var offsetSeconds = 0
        if reader.take(UInt8(ascii: " ")) || reader.take(UInt8(ascii: "T")) {
            guard let h = reader.digits(min: 2, max: 2), reader.take(UInt8(ascii: ":")),
                let m = reader.digits(min: 2, max: 2), reader.take(UInt8(ascii: ":")),
                let s = reader.digits(min: 2, max: 2)
            else { return nil }
            (hour, minute, second) = (h, m, s)
            if reader.take(UInt8(ascii: ".")) {
                var scale = 100_000
                var count = 0
                while let digit = reader.digit() {
                    count += 1
                    guard count <= 6 else { return nil }
                    micro += digit * scale
                    scale /= 10
                }
                guard count > 0 else { return nil }
            }
            if reader.take(UInt8(ascii: "Z")) {
                offsetSeconds = 0
            } else if let sign = reader.sign() {
                guard let oh = reader.digits(min: 2, max: 2) else { return nil }
                var total = oh * 3_600
                if reader.take(UInt8(ascii: ":")) {
                    guard let om = reader.digits(min: 2, max: 2) else { return nil }
                    total += om * 60
                    if reader.take(UInt8(ascii: ":")) {
                        guard let os = reader.digits(min: 2, max: 2) else { return nil }
                        total += os
                    }
                }
                offsetSeconds = sign * total
            }
        }
        var year = yearDigits
        if reader.take(UInt8(ascii: " ")) {
            guard reader.take(UInt8(ascii: "B")), reader.take(UInt8(ascii: "C")) else { return nil }
            year = 1 - year
        }
        guard reader.isAtEnd,
            let local = PostgresTimestamp(
                year: year, month: month, day: day, hour: hour, minute: minute, second: second, microsecond: micro)
        else { return nil }
        // Local time = UTC + offset, so UTC = local - offset.
        self.microsecondsSinceEpoch = local.microsecondsSinceEpoch - Int64(offsetSeconds) * 1_000_000
    }

    /// Parses PostgreSQL's ISO output from a string.
    public init?(postgresText text: String) {
        var copy = text
        guard let value = copy.withUTF8({ PostgresTimestamp(postgresText: UnsafeRawBufferPointer($0)) }) else {
            return nil
        }
        self = value
    }

}
