public import JSON

struct FilterLexer {
    let text: String
    let bytes: [UInt8]
    var pos = 0

    init(_ text: String) {
        self.text = text
        self.bytes = Array(text.utf8)
    }

    static func isDelimiter(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == UInt8(ascii: "(") || c == UInt8(ascii: ")")
            || c == UInt8(ascii: "[") || c == UInt8(ascii: "]") || c == UInt8(ascii: "\"")
    }

    /// Returns the next token and its byte offset.
    mutating func next() throws(SCIMError) -> (FilterToken, Int) {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x09 || bytes[pos] == 0x0A || bytes[pos] == 0x0D { pos += 1 }
        guard pos < bytes.count else { return (.end, pos) }
        let start = pos
        switch bytes[pos] {
        case UInt8(ascii: "("): pos += 1; return (.lparen, start)
        case UInt8(ascii: ")"): pos += 1; return (.rparen, start)
        case UInt8(ascii: "["): pos += 1; return (.lbracket, start)
        case UInt8(ascii: "]"): pos += 1; return (.rbracket, start)
        case UInt8(ascii: "\""):
            pos += 1
            while pos < bytes.count, bytes[pos] != UInt8(ascii: "\"") {
                pos += bytes[pos] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard pos < bytes.count else { throw .invalidFilter("unterminated string starting at position \(start)") }
            pos += 1
            if !bytes[(start + 1)..<(pos - 1)].contains(where: { $0 == UInt8(ascii: "\\") || $0 < 0x20 }) {
                // No escapes or control characters: the bytes came from a Swift String, so they are valid UTF-8.
                return (.string(String(decoding: bytes[(start + 1)..<(pos - 1)], as: UTF8.self)), start)
            }
            // The string literal uses JSON string syntax (RFC 7644 §3.4.2.2), so the JSON decoder unescapes it.
            let decoded: JSONValue
            do {
                decoded = try JSONDecoder.decode(Array(bytes[start..<pos]))
            } catch {
                throw .invalidFilter("invalid string literal at position \(start)")
            }
            return (.string(decoded.string ?? ""), start)
        default:
            while pos < bytes.count, !FilterLexer.isDelimiter(bytes[pos]) {
                // Control characters are never part of a name, operator or (unquoted) value.
                if bytes[pos] < 0x20 || bytes[pos] == 0x7F { throw .invalidFilter("control character at position \(pos)") }
                pos += 1
            }
            let lo = text.utf8.index(text.utf8.startIndex, offsetBy: start)
            let hi = text.utf8.index(lo, offsetBy: pos - start)
            return (.word(text[lo..<hi]), start)
        }
    }
}
