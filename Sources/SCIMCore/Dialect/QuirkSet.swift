import JSON

/// Which quirks one request needed: a bit set, so reporting costs an OR per normalisation that fired and nothing
/// when none did. SCIMCore's pipelines return one with their result; the region counts them per tenant.
public struct QuirkSet: Sendable, Hashable, Sequence {
    var bits: UInt32 = 0

    /// The empty set.
    public init() {}

    /// The set as one word, for holding it in an atomic (`RequestQuirks`), and back.
    public var rawBits: UInt32 { bits }
    public init(rawBits: UInt32) { bits = rawBits }

    /// A set of the given quirks.
    public init(_ quirks: [IdPQuirk]) {
        for q in quirks { insert(q) }
    }

    /// Whether no quirk fired.
    public var isEmpty: Bool { bits == 0 }

    /// Whether `quirk` fired.
    public func contains(_ quirk: IdPQuirk) -> Bool { bits & quirk.bit != 0 }

    /// Notes that `quirk` fired.
    public mutating func insert(_ quirk: IdPQuirk) { bits |= quirk.bit }

    /// Adds every quirk of `other`.
    public mutating func formUnion(_ other: QuirkSet) { bits |= other.bits }

    /// The quirks, in declaration order.
    public func makeIterator() -> IndexingIterator<[IdPQuirk]> {
        IdPQuirk.allCases.filter { contains($0) }.makeIterator()
    }
}
