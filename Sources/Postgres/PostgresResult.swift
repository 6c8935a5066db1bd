import CLibPQ
import Crypto

/// The rows of one statement, in libpq's text format. Owns the `PGresult` and clears it in `deinit`.
///
/// Accessors return nil for SQL NULL (and for text that does not parse as the requested type).
/// Row and column indexes are zero-based and must be in range (checked with a precondition).
public final class PostgresResult {
    private let handle: OpaquePointer

    /// Number of rows returned.
    public let rowCount: Int
    /// Number of columns returned.
    public let columnCount: Int

    init(taking handle: OpaquePointer) {
        self.handle = handle
        self.rowCount = Int(PQntuples(handle))
        self.columnCount = Int(PQnfields(handle))
    }

    deinit { PQclear(handle) }

    /// Rows affected by INSERT/UPDATE/DELETE/MERGE/COPY/FETCH/MOVE (or returned by SELECT), 0 otherwise.
    public var affectedRows: Int {
        guard let tuples = PQcmdTuples(handle), tuples.pointee != 0 else { return 0 }
        return Int(String(cString: tuples)) ?? 0
    }

    /// The command tag, e.g. `INSERT 0 1` or `SELECT 3`.
    public var commandTag: String {
        guard let status = PQcmdStatus(handle) else { return "" }
        return String(cString: status)
    }

    /// The name of column `column`.
    public func columnName(_ column: Int) -> String {
        precondition(column >= 0 && column < columnCount, "column index out of range")
        return String(cString: PQfname(handle, Int32(column)))
    }

    /// The index of the column named `name` (exact, case-sensitive match), or nil.
    public func columnIndex(_ name: String) -> Int? {
        for column in 0..<columnCount where name == String(cString: PQfname(handle, Int32(column))) {
            return column
        }
        return nil
    }

    @inline(__always)
    private func check(_ row: Int, _ column: Int) {
        precondition(row >= 0 && row < rowCount && column >= 0 && column < columnCount, "row or column out of range")
    }

    /// True when the value is SQL NULL.
    public func isNull(row: Int, column: Int) -> Bool {
        check(row, column)
        return PQgetisnull(handle, Int32(row), Int32(column)) != 0
    }

    /// Calls `body` with the value's bytes straight from libpq's memory (no copy, no String);
    /// returns nil for NULL. The buffer is valid only during the call.
    public func withBytes<R, E: Error>(
        row: Int, column: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R? {
        check(row, column)
        let r = Int32(row), c = Int32(column)
        if PQgetisnull(handle, r, c) != 0 { return nil }
        let length = Int(PQgetlength(handle, r, c))
        let value = PQgetvalue(handle, r, c)
        return try body(UnsafeRawBufferPointer(start: value, count: length))
    }

    /// The value as text.
    public func string(row: Int, column: Int) -> String? {
        withBytes(row: row, column: column) { String(decoding: $0, as: UTF8.self) }
    }

    /// The value as an integer (`int2`, `int4`, `int8`, `oid`, or digits in text).
    public func int(row: Int, column: Int) -> Int64? {
        withBytes(row: row, column: column) { Self.parseInt($0) } ?? nil
    }

    /// The value as a boolean (`t`/`f`).
    public func bool(row: Int, column: Int) -> Bool? {
        withBytes(row: row, column: column) { bytes -> Bool? in
            guard bytes.count == 1 else { return nil }
            switch bytes[0] {
            case UInt8(ascii: "t"): return true
            case UInt8(ascii: "f"): return false
            default: return nil
            }
        } ?? nil
    }

    /// The value as a double (`float4`, `float8`, `numeric`).
    public func double(row: Int, column: Int) -> Double? {
        guard let text = string(row: row, column: column) else { return nil }
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(text)
        }
    }

    /// The value of a `bytea` column (decoded from the hex text format).
    public func bytes(row: Int, column: Int) -> [UInt8]? {
        withBytes(row: row, column: column) { Self.decodeByteaHex($0) } ?? nil
    }

    /// The value of a `timestamptz` (or `timestamp`, read as UTC) column.
    public func timestamp(row: Int, column: Int) -> PostgresTimestamp? {
        withBytes(row: row, column: column) { PostgresTimestamp(postgresText: $0) } ?? nil
    }

    /// Same as `string(row:column:)` with the column looked up by name; nil if the column is absent.
    public func string(row: Int, column name: String) -> String? {
        columnIndex(name).flatMap { string(row: row, column: $0) }
    }

    /// Same as `int(row:column:)` with the column looked up by name; nil if the column is absent.
    public func int(row: Int, column name: String) -> Int64? {
        columnIndex(name).flatMap { int(row: row, column: $0) }
    }

    /// Same as `bool(row:column:)` with the column looked up by name; nil if the column is absent.
    public func bool(row: Int, column name: String) -> Bool? {
        columnIndex(name).flatMap { bool(row: row, column: $0) }
    }

    static func parseInt(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard !bytes.isEmpty else { return nil }
        var index = 0
        let negative = bytes[0] == UInt8(ascii: "-")
        if negative || bytes[0] == UInt8(ascii: "+") { index = 1 }
        guard index < bytes.count else { return nil }
        var value: Int64 = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            let digit = Int64(byte - 0x30)
            // Accumulate negatively so Int64.min parses without overflow.
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = shifted.subtractingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            value = next
            index += 1
        }
        if negative { return value }
        let (positive, overflow) = Int64(0).subtractingReportingOverflow(value)
        return overflow ? nil : positive
    }

    /// Decodes `\x0a1b…` (PostgreSQL's default `bytea_output = hex`).
    static func decodeByteaHex(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x") else { return nil }
        return Hex.decode(UnsafeRawBufferPointer(rebasing: bytes[2...]))
    }
}
