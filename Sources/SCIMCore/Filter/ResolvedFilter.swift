import JSON

/// A filter whose paths are resolved against the schema, ready to evaluate in memory or compile to SQL.
public indirect enum ResolvedFilter: Sendable, Hashable, CustomStringConvertible {
    /// Compare the path's value(s) with a literal; for multi-valued attributes any value may match.
    case compare(ResolvedPath, CompareOperator, FilterValue)
    /// The path has a non-empty value (for a complex attribute without sub-attribute: any non-empty sub-value).
    case present(ResolvedPath)
    case and(ResolvedFilter, ResolvedFilter)
    case or(ResolvedFilter, ResolvedFilter)
    case not(ResolvedFilter)
    /// Some single element of the multi-valued attribute satisfies the inner filter, whose paths all have
    /// `attribute` == this attribute and a `subAttribute`.
    case valuePath(ResolvedPath, ResolvedFilter)

    public var description: String {
        switch self {
        case .compare(let p, let op, let v): return "\(p) \(op.rawValue) \(v)"
        case .present(let p): return "\(p) pr"
        case .and(let l, let r): return "(\(l) and \(r))"
        case .or(let l, let r): return "(\(l) or \(r))"
        case .not(let f): return "not (\(f))"
        case .valuePath(let p, let f): return "\(p)[\(f)]"
        }
    }
}
