public import JSON

// RFC 7644 §3.4.2.2 filter grammar:
//   FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//   valuePath = attrPath "[" valFilter "]"
//   attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//   attrPath  = [URI ":"] ATTRNAME *1subAttr
// Precedence: not > and > or; operators, keywords and attribute names are case-insensitive.

/// A parsed filter (unresolved: names as written).
public indirect enum Filter: Sendable, Hashable, CustomStringConvertible {
    case compare(AttributePath, CompareOperator, FilterValue)
    case present(AttributePath)
    case and(Filter, Filter)
    case or(Filter, Filter)
    case not(Filter)
    /// `attr[filter]`: some value of the multi-valued attribute matches the inner filter (inner paths are sub-attributes).
    case valuePath(AttributePath, Filter)

    var precedence: Int {
        switch self {
        case .or: return 1
        case .and: return 2
        case .compare, .present, .not, .valuePath: return 3
        }
    }

    /// Canonical text: lowercase operators, minimal parentheses that keep the tree shape.
    public var description: String {
        func wrap(_ f: Filter, _ minPrecedence: Int) -> String {
            f.precedence < minPrecedence ? "(\(f.description))" : f.description
        }
        switch self {
        case .compare(let p, let op, let v): return "\(p) \(op.rawValue) \(v)"
        case .present(let p): return "\(p) pr"
        case .and(let l, let r): return "\(wrap(l, 2)) and \(wrap(r, 3))"
        case .or(let l, let r): return "\(wrap(l, 1)) or \(wrap(r, 2))"
        case .not(let f): return "not (\(f.description))"
        case .valuePath(let p, let f): return "\(p)[\(f.description)]"
        }
    }
}

// MARK: - Lexer

// MARK: - Parser
