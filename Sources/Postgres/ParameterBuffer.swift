/// Parameters laid out the way libpq wants them: one contiguous byte store plus
/// type/length/format arrays. Built once per call; pointers exist only inside `withPointers`.
struct ParameterBuffer {
    private(set) var types: [UInt32] = []
    private var formats: [Int32] = []
    private var lengths: [Int32] = []
    private var offsets: [Int] = []
    // Starts with one spare byte so the base address is never nil: an empty `bytea` must be
    // sent as a valid pointer with length 0, since a nil pointer means NULL to libpq.
    private var storage: [UInt8] = [0]

    init(_ values: [PostgresValue]) throws(PostgresError) {
        let count = values.count
        types.reserveCapacity(count)
        formats.reserveCapacity(count)
        lengths.reserveCapacity(count)
        offsets.reserveCapacity(count)
        for (index, value) in values.enumerated() {
            switch value {
            case .null:
                types.append(TypeOID.unknown)
                formats.append(0)
                lengths.append(0)
                offsets.append(-1)
            case .text(let string):
                try appendText(string, type: TypeOID.unknown, index: index)
            case .int(let int):
                try appendText(String(int), type: TypeOID.int8, index: index)
            case .double(let double):
                try appendText(Self.format(double), type: TypeOID.float8, index: index)
            case .bool(let bool):
                try appendText(bool ? "t" : "f", type: TypeOID.bool, index: index)
            case .bytes(let bytes):
                // Binary format: no hex escaping, no NUL problem.
                types.append(TypeOID.bytea)
                formats.append(1)
                lengths.append(Int32(bytes.count))
                offsets.append(storage.count)
                storage.append(contentsOf: bytes)
            case .uuid(let string):
                try appendText(string, type: TypeOID.uuid, index: index)
            case .timestamp(let timestamp):
                try appendText(timestamp.postgresText, type: TypeOID.timestamptz, index: index)
            case .jsonb(let json):
                try appendText(json, type: TypeOID.jsonb, index: index)
            }
        }
    }

    private mutating func appendText(_ string: String, type: UInt32, index: Int) throws(PostgresError) {
        let start = storage.count
        var hasNUL = false
        for byte in string.utf8 {
            if byte == 0 { hasNUL = true }
            storage.append(byte)
        }
        // libpq reads text parameters as C strings: a NUL would silently truncate the value.
        if hasNUL { throw PostgresError.invalidParameter(index: index) }
        storage.append(0)
        types.append(type)
        formats.append(0)
        lengths.append(Int32(storage.count - start - 1))
        offsets.append(start)
    }

    static func format(_ double: Double) -> String {
        if double.isNaN { return "NaN" }
        if double.isInfinite { return double < 0 ? "-Infinity" : "Infinity" }
        return "\(double)"
    }

    var count: Int { types.count }

    /// Calls `body` with (types, values, lengths, formats) pointers valid for the call only.
    func withPointers<R, E: Error>(
        _ body: (
            UnsafePointer<UInt32>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?,
            UnsafePointer<Int32>?
        ) throws(E) -> R
    ) throws(E) -> R {
        if types.isEmpty { return try body(nil, nil, nil, nil) }
        let result: Result<R, E> = storage.withUnsafeBytes { raw in
            let base = raw.baseAddress
            var values: [UnsafePointer<CChar>?] = []
            values.reserveCapacity(offsets.count)
            for offset in offsets {
                if offset < 0 {
                    values.append(nil)
                } else {
                    values.append(base?.advanced(by: offset).assumingMemoryBound(to: CChar.self))
                }
            }
            return types.withUnsafeBufferPointer { types in
                values.withUnsafeBufferPointer { values in
                    lengths.withUnsafeBufferPointer { lengths in
                        formats.withUnsafeBufferPointer { formats in
                            do throws(E) {
                                return .success(
                                    try body(types.baseAddress, values.baseAddress, lengths.baseAddress, formats.baseAddress))
                            } catch {
                                return .failure(error)
                            }
                        }
                    }
                }
            }
        }
        return try result.get()
    }
}
