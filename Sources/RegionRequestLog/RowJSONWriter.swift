import JSON

/// Writes one request-log row as a JSON object straight into bytes (the writer's batch is the concatenation of its
/// rows): no `JSONValue` tree is built for a row only to be encoded again. Keys are our column names (no escaping
/// needed); strings go through `JSONEncoder.encodeString`.
struct RowJSONWriter {
    private(set) var bytes: [UInt8] = []
    private var first = true

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    private mutating func key(_ name: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: "\":".utf8)
    }

    mutating func string(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { JSONEncoder.encodeString(value, into: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    mutating func int(_ name: StaticString, _ value: Int64?) {
        key(name)
        bytes.append(contentsOf: (value.map { String($0) } ?? "null").utf8)
    }

    mutating func double(_ name: StaticString, _ value: Double) {
        key(name)
        bytes.append(contentsOf: (value.isFinite ? String(value) : "0").utf8)
    }

    mutating func bool(_ name: StaticString, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func strings(_ name: StaticString, _ values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONEncoder.encodeString(v, into: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// The finished object.
    mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}
