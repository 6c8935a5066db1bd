public import JSON

/// A PATCH `path` as written: attribute path, optional value filter, optional sub-attribute after the filter.
public struct PatchPath: Sendable, Hashable, CustomStringConvertible {
    /// The attribute (possibly URN-qualified, possibly with a sub-attribute when there is no filter).
    public var attribute: AttributePath
    /// The value filter in brackets.
    public var filter: Filter?
    /// The sub-attribute after the brackets.
    public var subAttribute: String?

    /// Creates a path.
    public init(attribute: AttributePath, filter: Filter? = nil, subAttribute: String? = nil) {
        self.attribute = attribute
        self.filter = filter
        self.subAttribute = subAttribute
    }

    public var description: String {
        var s = attribute.description
        if let f = filter { s += "[\(f)]" }
        if let sub = subAttribute { s += "." + sub }
        return s
    }
}
