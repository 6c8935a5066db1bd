// A strict RFC 8259 decoder working on bytes.

/// Strict JSON decoding entry points.
public enum JSONDecoder {
    /// Decodes a complete JSON text from bytes.
    public static func decode(_ bytes: [UInt8], options: JSONDecodingOptions = .default) throws(JSONError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buf) throws(JSONError) -> JSONValue in
            try decode(UnsafeRawBufferPointer(buf), options: options)
        }
    }

    /// Decodes a complete JSON text from a string's UTF-8.
    public static func decode(_ text: String, options: JSONDecodingOptions = .default) throws(JSONError) -> JSONValue {
        try decode(Array(text.utf8), options: options)
    }

    /// Decodes a complete JSON text straight from memory (e.g. a libpq result buffer).
    public static func decode(_ bytes: UnsafeRawBufferPointer, options: JSONDecodingOptions = .default) throws(JSONError) -> JSONValue {
        guard bytes.count <= options.limits.maxTotalSize else {
            throw JSONError(.documentTooLarge, at: options.limits.maxTotalSize)
        }
        let typed = bytes.bindMemory(to: UInt8.self)
        var parser = Parser(input: typed, options: options)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.pos == typed.count else { throw JSONError(.trailingContent, at: parser.pos) }
        return value
    }
}
