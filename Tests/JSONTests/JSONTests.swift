import Testing
import JSON

private func roundTrip(_ text: String) throws -> String {
    String(decoding: try JSONDecoder.decode(text).encoded(), as: UTF8.self)
}

private func decodeError(_ bytes: [UInt8], options: JSONDecodingOptions = .default) -> JSONError? {
    do {
        _ = try JSONDecoder.decode(bytes, options: options)
        return nil
    } catch {
        return error
    }
}

@Suite struct JSONDecodingTests {
    @Test(arguments: [
        ("null", "null"),
        ("true", "true"),
        (" false ", "false"),
        ("0", "0"),
        ("-0", "-0"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
        ("1.0000000000000000000001", "1.0000000000000000000001"),
        ("-1.5e-300", "-1.5e-300"),
        ("1E+2", "1E+2"),
        ("\"\"", "\"\""),
        ("\"a\\/b\"", "\"a/b\""),
        ("\"\\u00e9\\u20AC\"", "\"é€\""),
        ("\"\\ud83d\\ude00\"", "\"😀\""),
        ("\"tab\\there\\nnl\\\\ \\\"q\\\"\"", "\"tab\\there\\nnl\\\\ \\\"q\\\"\""),
        ("\"\\u0001\\u001f\"", "\"\\u0001\\u001f\""),
        ("[ 1 , [ ] , { } ]", "[1,[],{}]"),
        ("{\"b\":1,\"a\":{\"z\":null,\"y\":[true]}}", "{\"b\":1,\"a\":{\"z\":null,\"y\":[true]}}"),
        ("\"é日本😀\"", "\"é日本😀\""),
    ])
    func validDocumentsRoundTripExactly(input: String, expected: String) throws {
        #expect(try roundTrip(input) == expected)
    }

    @Test(arguments: [
        ("", JSONError.Kind.unexpectedEnd, 0),
        ("[1,", .unexpectedEnd, 3),
        ("{\"a\" 1}", .unexpectedByte, 5),
        ("[1 2]", .unexpectedByte, 3),
        ("tru", .unexpectedEnd, 3),
        ("nul!", .invalidLiteral, 0),
        ("01", .invalidNumber, 0),
        ("1.", .invalidNumber, 0),
        ("-", .unexpectedEnd, 1),
        ("1e+", .invalidNumber, 0),
        (".5", .unexpectedByte, 0),
        ("+1", .unexpectedByte, 0),
        ("\"\\x\"", .invalidEscape, 1),
        ("\"\\u12G4\"", .invalidEscape, 5),
        ("\"\\ud800\"", .loneSurrogate, 1),
        ("\"\\udc00\"", .loneSurrogate, 1),
        ("\"\\ud800\\u0041\"", .loneSurrogate, 1),
        ("\"a\nb\"", .controlCharacterInString, 2),
        ("{} {}", .trailingContent, 3),
        ("{\"a\":1,\"a\":2}", .duplicateKey, 7),
        ("[1,]", .unexpectedByte, 3),
        ("{\"a\":1,}", .unexpectedByte, 7),
        ("\"abc", .unexpectedEnd, 4),
    ])
    func invalidDocumentsGiveTypedErrors(input: String, kind: JSONError.Kind, offset: Int) {
        let error = decodeError(Array(input.utf8))
        #expect(error == JSONError(kind, at: offset))
    }

    @Test(arguments: [
        ([0x22, 0xC3, 0x28, 0x22], 1),              // bad continuation
        ([0x22, 0xC0, 0xAF, 0x22], 1),              // overlong '/'
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], 1),        // overlong 3-byte
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),        // encoded surrogate U+D800
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),  // > U+10FFFF
        ([0x22, 0xFF, 0x22], 1),
        ([0x22, 0x61, 0xE2, 0x82, 0x22], 2),        // truncated
    ] as [([UInt8], Int)])
    func invalidUTF8IsRejected(bytes: [UInt8], offset: Int) {
        #expect(decodeError(bytes) == JSONError(.invalidUTF8, at: offset))
    }

    @Test func depthLimitIsEnforcedExactly() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(try JSONDecoder.decode(ok).array != nil)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(decodeError(Array(deep.utf8)) == JSONError(.depthLimitExceeded, at: 64))
        let objects = String(repeating: "{\"a\":", count: 3) + "1" + String(repeating: "}", count: 3)
        let limits = JSONLimits(maxDepth: 2)
        #expect(decodeError(Array(objects.utf8), options: .init(limits: limits)) == JSONError(.depthLimitExceeded, at: 10))
    }

    @Test func sizeLimitsHaveDistinctErrors() {
        let limits = JSONLimits(maxDepth: 8, maxStringLength: 4, maxTotalSize: 32, maxElementCount: 3)
        let options = JSONDecodingOptions(limits: limits)
        #expect(decodeError(Array("\"abcde\"".utf8), options: options) == JSONError(.stringTooLong, at: 1))
        #expect(decodeError(Array("\"ab\\ncd\"".utf8), options: options) == JSONError(.stringTooLong, at: 1))
        #expect(decodeError(Array("[1,2,3,4]".utf8), options: options) == JSONError(.tooManyElements, at: 7))
        #expect(decodeError(Array("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}".utf8), options: options) == JSONError(.tooManyElements, at: 19))
        #expect(decodeError(Array(String(repeating: " ", count: 33).utf8), options: options) == JSONError(.documentTooLarge, at: 32))
    }

    @Test func duplicateKeysCanBeAcceptedLastWins() throws {
        let v = try JSONDecoder.decode("{\"a\":1,\"b\":2,\"a\":3}", options: .init(duplicateKeys: .lastWins))
        #expect(v.description == "{\"a\":3,\"b\":2}")
    }

    @Test func keysAreComparedByBytes() throws {
        // Precomposed and decomposed é are different keys (no Unicode normalisation).
        let v = try JSONDecoder.decode("{\"caf\u{E9}\":1,\"cafe\u{301}\":2}")
        #expect(v.object?.count == 2)
        #expect(v["cafe\u{301}"] == 2)
        #expect(!asciiCaseInsensitiveEquals("caf\u{E9}", "CAFE\u{301}"))
    }

    @Test func duplicateDetectionWorksInLargeObjects() {
        var text = "{"
        for i in 0..<40 { text += "\"k\(i)\":\(i)," }
        text += "\"k7\":0}"
        #expect(decodeError(Array(text.utf8))?.kind == .duplicateKey)
    }

    @Test func numbersKeepExactTextAndConvert() throws {
        let v = try JSONDecoder.decode("[9223372036854775807, 9223372036854775808, -9223372036854775808, 1.5, 1e3, 123456789012345678901234567890.123]")
        let a = try #require(v.array)
        #expect(a[0].int64 == Int64.max)
        #expect(a[1].int64 == nil)
        #expect(a[1].number?.decimalText == "9223372036854775808")
        #expect(a[2].int64 == Int64.min)
        #expect(a[3].double == 1.5)
        #expect(a[3].int64 == nil)
        #expect(a[4].double == 1000)
        #expect(a[4].number?.isIntegerLiteral == false)
        #expect(a[5].number?.text == "123456789012345678901234567890.123")
        #expect(JSONNumber(text: "01") == nil)
        #expect(JSONNumber(text: "-0.5e10")?.double == -5e9)
    }

    @Test func decodesFromRawBufferPointer() throws {
        let bytes = Array("{\"userName\":\"bjensen\"}".utf8)
        let v = try bytes.withUnsafeBytes { raw in try JSONDecoder.decode(raw) }
        #expect(v["userName"]?.string == "bjensen")
    }
}

@Suite struct JSONValueTests {
    @Test func objectsPreserveOrderAndLookUpCaseInsensitively() throws {
        var v: JSONValue = ["userName": "bjensen", "Name": ["givenName": "Barbara"], "active": true]
        #expect(v.description == "{\"userName\":\"bjensen\",\"Name\":{\"givenName\":\"Barbara\"},\"active\":true}")
        #expect(v["name"] == nil)
        #expect(v[caseInsensitive: "NAME"]?[caseInsensitive: "GIVENNAME"]?.string == "Barbara")
        v["active"] = false
        v["title"] = "Boss"
        v["userName"] = nil
        #expect(v.description == "{\"Name\":{\"givenName\":\"Barbara\"},\"active\":false,\"title\":\"Boss\"}")
    }

    @Test func literalsAndAccessors() {
        let v: JSONValue = ["a": [1, 2.5, "x", nil, true]]
        #expect(v["a"]?[0]?.int == 1)
        #expect(v["a"]?[1]?.double == 2.5)
        #expect(v["a"]?[2]?.string == "x")
        #expect(v["a"]?[3]?.isNull == true)
        #expect(v["a"]?[4]?.bool == true)
        #expect(v["a"]?[5] == nil)
        #expect(asciiCaseInsensitiveEquals("emails.Value", "EMAILS.value"))
        #expect(!asciiCaseInsensitiveEquals("é", "É"))
    }

    @Test func encoderEscapesPerRFC8259() {
        let v: JSONValue = .string("a\"b\\c/d\u{7}\u{1F}é\n")
        #expect(v.description == "\"a\\\"b\\\\c/d\\u0007\\u001fé\\n\"")
    }
}

@Suite struct JSONStackDecodingTests {
    @Test func lastWinsInsideNestedContainers() throws {
        let v = try JSONDecoder.decode("[[1,2],{\"a\":[3],\"b\":{\"c\":4},\"a\":5},[{\"d\":6}]]", options: .init(duplicateKeys: .lastWins))
        #expect(v.description == "[[1,2],{\"a\":5,\"b\":{\"c\":4}},[{\"d\":6}]]")
    }

    @Test func encodedSizeIsExact() throws {
        let samples = ["{\"x\":[{\"y\":1},{\"z\":[2,3,\"\\u0001\\\"\\\\é😀\"]}],\"w\":null,\"t\":true,\"f\":false,\"e\":{},\"a\":[]}", "\"\"", "[]", "-1.5e3"]
        for text in samples {
            let v = try JSONDecoder.decode(text)
            #expect(JSONEncoder.encodedSize(v) == v.encoded().count)
            #expect(try JSONDecoder.decode(v.encoded()) == v)
        }
    }
}

@Suite struct JSONEscapingTests {
    /// Byte-by-byte reference escaping, to check the 8-bytes-at-a-time fast path at every alignment.
    static func reference(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    let h = Array("0123456789abcdef")
                    out += "\\u00" + String(h[Int(u.value >> 4)]) + String(h[Int(u.value & 0xF)])
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    @Test(arguments: ["\"", "\\", "\u{0}", "\u{1F}", "\n", "é", "😀", "/", "\u{7F}"])
    func specialCharacterAtEveryPosition(special: String) {
        for prefix in 0..<20 {
            let s = String(repeating: "a", count: prefix) + special + String(repeating: "b", count: 19 - prefix)
            #expect(JSONValue.string(s).description == Self.reference(s))
        }
    }
}
