/// A decoding failure with the byte offset where it was detected. Its description carries no document content.
public struct JSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable, Hashable {
        case unexpectedEnd
        case unexpectedByte
        case invalidLiteral
        case invalidNumber
        case invalidEscape
        case loneSurrogate
        case invalidUTF8
        case controlCharacterInString
        case trailingContent
        case depthLimitExceeded
        case stringTooLong
        case documentTooLarge
        case tooManyElements
        case duplicateKey
    }

    /// What went wrong.
    public let kind: Kind
    /// Byte offset in the input.
    public let offset: Int

    /// Creates an error.
    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch kind {
        case .unexpectedEnd: what = "unexpected end of input"
        case .unexpectedByte: what = "unexpected character"
        case .invalidLiteral: what = "invalid literal"
        case .invalidNumber: what = "invalid number"
        case .invalidEscape: what = "invalid escape sequence"
        case .loneSurrogate: what = "unpaired UTF-16 surrogate in \\u escape"
        case .invalidUTF8: what = "invalid UTF-8"
        case .controlCharacterInString: what = "unescaped control character in string"
        case .trailingContent: what = "content after the JSON value"
        case .depthLimitExceeded: what = "nesting deeper than the limit"
        case .stringTooLong: what = "string longer than the limit"
        case .documentTooLarge: what = "document larger than the limit"
        case .tooManyElements: what = "too many elements in an array or object"
        case .duplicateKey: what = "duplicate object key"
        }
        return "\(what) at byte \(offset)"
    }
}
