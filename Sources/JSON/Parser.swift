/// The recursive-descent parser. Works on a borrowed buffer; produces owned values.
struct Parser {
    let input: UnsafeBufferPointer<UInt8>
    let options: JSONDecodingOptions
    var pos = 0
    var scratch: [UInt8] = []

    init(input: UnsafeBufferPointer<UInt8>, options: JSONDecodingOptions) {
        self.input = input
        self.options = options
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < input.count {
            let c = input[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { return }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
        guard pos < input.count else { throw JSONError(.unexpectedEnd, at: pos) }
        switch input[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw JSONError(.unexpectedByte, at: pos)
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
        let n = literal.utf8CodeUnitCount
        let p = literal.utf8Start
        for i in 0..<n {
            guard pos + i < input.count else { throw JSONError(.unexpectedEnd, at: input.count) }
            guard input[pos + i] == p[i] else { throw JSONError(.invalidLiteral, at: pos) }
        }
        pos += n
    }

    mutating func parseNumber() throws(JSONError) -> JSONNumber {
        let start = pos
        let n = input.count
        if input[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < n else { throw JSONError(.unexpectedEnd, at: pos) }
        if input[pos] == UInt8(ascii: "0") {
            pos += 1
            // A leading zero may not be followed by more digits.
            if pos < n, input[pos] >= 0x30, input[pos] <= 0x39 { throw JSONError(.invalidNumber, at: start) }
        } else if input[pos] >= UInt8(ascii: "1"), input[pos] <= UInt8(ascii: "9") {
            while pos < n, input[pos] >= 0x30, input[pos] <= 0x39 { pos += 1 }
        } else {
            throw JSONError(.invalidNumber, at: start)
        }
        if pos < n, input[pos] == UInt8(ascii: ".") {
            pos += 1
            let digits = pos
            while pos < n, input[pos] >= 0x30, input[pos] <= 0x39 { pos += 1 }
            if pos == digits { throw JSONError(.invalidNumber, at: start) }
        }
        if pos < n, input[pos] == UInt8(ascii: "e") || input[pos] == UInt8(ascii: "E") {
            pos += 1
            if pos < n, input[pos] == UInt8(ascii: "+") || input[pos] == UInt8(ascii: "-") { pos += 1 }
            let digits = pos
            while pos < n, input[pos] >= 0x30, input[pos] <= 0x39 { pos += 1 }
            if pos == digits { throw JSONError(.invalidNumber, at: start) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: input[start..<pos]), as: UTF8.self)
        return JSONNumber(validatedText: text)
    }

    /// Parses a string starting at the opening quote. ASCII runs without escapes take a fast path.
    mutating func parseString() throws(JSONError) -> String {
        pos += 1  // opening quote
        let start = pos
        let n = input.count
        let maxLen = options.limits.maxStringLength
        // Fast scan: stop at quote, backslash, control or non-ASCII byte.
        while pos < n {
            let c = input[pos]
            if c == UInt8(ascii: "\"") {
                if pos - start > maxLen { throw JSONError(.stringTooLong, at: start) }
                let s = String(decoding: UnsafeBufferPointer(rebasing: input[start..<pos]), as: UTF8.self)
                pos += 1
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { break }
            pos += 1
        }
        // Slow path: escapes and/or multi-byte UTF-8, validated byte by byte.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: input[start..<pos]))
        while true {
            guard pos < n else { throw JSONError(.unexpectedEnd, at: n) }
            let c = input[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                break
            } else if c == UInt8(ascii: "\\") {
                try parseEscape()
            } else if c < 0x20 {
                throw JSONError(.controlCharacterInString, at: pos)
            } else if c < 0x80 {
                scratch.append(c)
                pos += 1
            } else {
                let len = try validateUTF8Sequence(at: pos)
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: input[pos..<(pos + len)]))
                pos += len
            }
            if scratch.count > maxLen { throw JSONError(.stringTooLong, at: start) }
        }
        return String(decoding: scratch, as: UTF8.self)
    }

    /// Validates one multi-byte UTF-8 sequence (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF); returns its length.
    func validateUTF8Sequence(at p: Int) throws(JSONError) -> Int {
        let n = input.count
        let b0 = input[p]
        func cont(_ i: Int) -> UInt8? { i < n && input[i] & 0xC0 == 0x80 ? input[i] : nil }
        switch b0 {
        case 0xC2...0xDF:
            guard cont(p + 1) != nil else { throw JSONError(.invalidUTF8, at: p) }
            return 2
        case 0xE0...0xEF:
            guard let b1 = cont(p + 1), cont(p + 2) != nil else { throw JSONError(.invalidUTF8, at: p) }
            if b0 == 0xE0 && b1 < 0xA0 { throw JSONError(.invalidUTF8, at: p) }  // overlong
            if b0 == 0xED && b1 >= 0xA0 { throw JSONError(.invalidUTF8, at: p) }  // UTF-16 surrogate
            return 3
        case 0xF0...0xF4:
            guard let b1 = cont(p + 1), cont(p + 2) != nil, cont(p + 3) != nil else {
                throw JSONError(.invalidUTF8, at: p)
            }
            if b0 == 0xF0 && b1 < 0x90 { throw JSONError(.invalidUTF8, at: p) }  // overlong
            if b0 == 0xF4 && b1 >= 0x90 { throw JSONError(.invalidUTF8, at: p) }  // > U+10FFFF
            return 4
        default:
            throw JSONError(.invalidUTF8, at: p)
        }
    }

    mutating func parseEscape() throws(JSONError) {
        let escapeStart = pos
        pos += 1
        guard pos < input.count else { throw JSONError(.unexpectedEnd, at: pos) }
        let c = input[pos]
        pos += 1
        switch c {
        case UInt8(ascii: "\""): scratch.append(0x22)
        case UInt8(ascii: "\\"): scratch.append(0x5C)
        case UInt8(ascii: "/"): scratch.append(0x2F)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try parseHex4()
            var scalar: UInt32
            if unit >= 0xD800 && unit <= 0xDBFF {
                // A high surrogate must be followed by an escaped low surrogate.
                guard pos + 1 < input.count, input[pos] == UInt8(ascii: "\\"), input[pos + 1] == UInt8(ascii: "u") else {
                    throw JSONError(.loneSurrogate, at: escapeStart)
                }
                pos += 2
                let low = try parseHex4()
                guard low >= 0xDC00 && low <= 0xDFFF else { throw JSONError(.loneSurrogate, at: escapeStart) }
                scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            } else if unit >= 0xDC00 && unit <= 0xDFFF {
                throw JSONError(.loneSurrogate, at: escapeStart)
            } else {
                scalar = UInt32(unit)
            }
            appendUTF8(scalar)
        default:
            throw JSONError(.invalidEscape, at: escapeStart)
        }
    }

    mutating func parseHex4() throws(JSONError) -> UInt16 {
        guard pos + 4 <= input.count else { throw JSONError(.unexpectedEnd, at: input.count) }
        var v: UInt16 = 0
        for i in 0..<4 {
            let c = input[pos + i]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: throw JSONError(.invalidEscape, at: pos + i)
            }
            v = v << 4 | UInt16(d)
        }
        pos += 4
        return v
    }

    mutating func appendUTF8(_ s: UInt32) {
        if s < 0x80 {
            scratch.append(UInt8(s))
        } else if s < 0x800 {
            scratch.append(UInt8(0xC0 | (s >> 6)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        } else if s < 0x10000 {
            scratch.append(UInt8(0xE0 | (s >> 12)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        } else {
            scratch.append(UInt8(0xF0 | (s >> 18)))
            scratch.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        }
    }

    mutating func parseArray(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= options.limits.maxDepth else { throw JSONError(.depthLimitExceeded, at: pos) }
        pos += 1
        skipWhitespace()
        if pos < input.count, input[pos] == UInt8(ascii: "]") {
            pos += 1
            return .array([])
        }
        var elements: [JSONValue] = []
        elements.reserveCapacity(4)
        while true {
            skipWhitespace()
            if elements.count >= options.limits.maxElementCount { throw JSONError(.tooManyElements, at: pos) }
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard pos < input.count else { throw JSONError(.unexpectedEnd, at: pos) }
            let c = input[pos]
            pos += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "]") { return .array(elements) }
            throw JSONError(.unexpectedByte, at: pos - 1)
        }
    }

    mutating func parseObject(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= options.limits.maxDepth else { throw JSONError(.depthLimitExceeded, at: pos) }
        pos += 1
        skipWhitespace()
        if pos < input.count, input[pos] == UInt8(ascii: "}") {
            pos += 1
            return .object(JSONObject())
        }
        var keys: [String] = []
        var values: [JSONValue] = []
        keys.reserveCapacity(8)
        values.reserveCapacity(8)
        // Objects above this size switch from a linear duplicate scan to a hash set.
        var seen: Set<String>? = nil
        while true {
            skipWhitespace()
            guard pos < input.count else { throw JSONError(.unexpectedEnd, at: pos) }
            guard input[pos] == UInt8(ascii: "\"") else { throw JSONError(.unexpectedByte, at: pos) }
            let keyOffset = pos
            let key = try parseString()
            skipWhitespace()
            guard pos < input.count else { throw JSONError(.unexpectedEnd, at: pos) }
            guard input[pos] == UInt8(ascii: ":") else { throw JSONError(.unexpectedByte, at: pos) }
            pos += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)

            let count = keys.count
            var duplicateAt: Int? = nil
            if seen == nil && count < 32 {
                let length = key.utf8.count
                for i in 0..<keys.count where keys[i].utf8.count == length && keys[i].utf8.elementsEqual(key.utf8) {
                    duplicateAt = i
                    break
                }
            } else {
                if seen == nil { seen = Set(keys) }
                // Set membership uses canonical equivalence; the byte comparison decides.
                if seen!.contains(key) {
                    duplicateAt = keys.firstIndex { $0.utf8.elementsEqual(key.utf8) }
                } else {
                    seen!.insert(key)
                }
            }
            if let d = duplicateAt {
                switch options.duplicateKeys {
                case .reject: throw JSONError(.duplicateKey, at: keyOffset)
                case .lastWins: values[d] = value
                }
            } else {
                if count >= options.limits.maxElementCount { throw JSONError(.tooManyElements, at: keyOffset) }
                keys.append(key)
                values.append(value)
            }
            skipWhitespace()
            guard pos < input.count else { throw JSONError(.unexpectedEnd, at: pos) }
            let c = input[pos]
            pos += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "}") { return .object(JSONObject(uncheckedKeys: keys, values: values)) }
            throw JSONError(.unexpectedByte, at: pos - 1)
        }
    }
}
