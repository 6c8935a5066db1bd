import JSON

/// Why a path did not resolve; mapped to invalidFilter / invalidPath by the caller.
enum PathProblem: Error {
    case unknownSchema
    case unknownAttribute
    case unknownSubAttribute
    case notComplex
    case complexNeedsSubAttribute

    func detail(_ path: String) -> String {
        let p = path.prefix(120)
        switch self {
        case .unknownSchema: return "'\(p)' names a schema this resource type does not have"
        case .unknownAttribute: return "'\(p)' is not an attribute of this resource type"
        case .unknownSubAttribute: return "'\(p)' names an unknown sub-attribute"
        case .notComplex: return "'\(p)' gives a sub-attribute of an attribute that has none"
        case .complexNeedsSubAttribute: return "'\(p)' is complex; compare one of its sub-attributes"
        }
    }
}
