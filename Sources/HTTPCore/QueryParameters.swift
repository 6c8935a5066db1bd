/// Decoded query parameters in order. Lookup ignores the case of names (IdPs vary: `startIndex`, `startindex`).
public struct QueryParameters: Sendable, Sequence {
    public private(set) var items: [(name: String, value: String)] = []

    /// Parses a raw query. Empty pieces (a trailing `&`, as OneLogin sends) are skipped.
    /// A piece that does not decode to valid UTF-8 makes the whole parse fail (nil).
    public init?<S: StringProtocol>(_ raw: S?) {
        guard let raw else { return }
        for piece in Substring(raw).split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring, value: Substring
            if let eq = piece.firstIndex(of: "=") {
                name = piece[..<eq]
                value = piece[piece.index(after: eq)...]
            } else {
                name = piece
                value = ""
            }
            guard let n = PercentEncoding.decode(name, plusAsSpace: true),
                  let v = PercentEncoding.decode(value, plusAsSpace: true) else { return nil }
            if n.isEmpty { continue }
            items.append((n, v))
        }
    }

    public init(_ items: [(name: String, value: String)]) { self.items = items }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { items.makeIterator() }

    /// The first value for `name` (case-insensitive), or nil.
    public subscript(name: String) -> String? {
        for item in items where asciiCaseInsensitiveEquals(item.name, name) { return item.value }
        return nil
    }

    /// How many times `name` occurs.
    public func count(of name: String) -> Int {
        items.reduce(0) { $0 + (asciiCaseInsensitiveEquals($1.name, name) ? 1 : 0) }
    }

    /// Re-encodes the parameters as a query string.
    public var encoded: String {
        items.map { PercentEncoding.encode($0.name) + "=" + PercentEncoding.encode($0.value) }.joined(separator: "&")
    }
}
