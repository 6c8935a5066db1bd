public import JSON

/// How a list is paged.
public enum Pagination: Sendable, Hashable {
    /// 1-based index paging.
    case index(startIndex: Int, count: Int)
    /// RFC 9865 cursor paging; a nil cursor asks for the first page.
    case cursor(String?, count: Int)

    /// The page size.
    public var count: Int {
        switch self {
        case .index(_, let c), .cursor(_, let c): return c
        }
    }
}
