public import JSON

/// A path that selects values from a resource document, written as a PATCH path is (RFC 7644 §3.5.2: `title`,
/// `name.givenName`, `emails[type eq "work"].value`, `urn:…:enterprise:2.0:User:manager.value`, a custom extension's
/// `urn:…:department`) and resolved against the tenant's schemas once, when it is configured. Reading values is then
/// a walk of the document: no parsing per resource.
///
/// A complex attribute named without a sub-attribute selects its `value` sub-attribute (as a filter compares it);
/// a complex attribute without one is refused, as is a whole extension object.
public struct AttributeSelector: Sendable, Hashable, CustomStringConvertible {
    /// The attribute (with the sub-attribute whose values are selected, if any).
    public let path: ResolvedPath
    /// The value filter in brackets, applied to the elements of a multi-valued complex attribute.
    let filter: ResolvedFilter?
    /// The text it was parsed from.
    public let text: String

    /// Parses and resolves `text` against `schema`; `400 invalidPath` names what is wrong.
    public init(parsing text: String, schema: ResourceSchema) throws(SCIMError) {
        guard !text.isEmpty, text.utf8.count <= 512 else { throw .invalidPath("a path must be 1 to 512 bytes") }
        let parsed = try FilterParser.parsePatchPath(text)
        let target: PathTarget
        do { target = try schema.resolveTarget(parsed.attribute) } catch { throw .invalidPath(error.detail(parsed.attribute.description)) }
        guard case .attribute(var resolved) = target else {
            throw .invalidPath("'\(text.prefix(120))' names a whole extension object; name one of its attributes")
        }
        var filter: ResolvedFilter? = nil
        if let f = parsed.filter {
            guard resolved.subAttribute == nil, resolved.attribute.type == .complex else {
                throw .invalidPath("'\(parsed.attribute)' cannot take a value filter: it is not a complex attribute")
            }
            do { filter = try schema.resolve(f, parent: resolved) } catch { throw .invalidPath(error.detail ?? "invalid value filter") }
            if let s = parsed.subAttribute {
                guard let d = resolved.attribute.subAttribute(named: s) else {
                    throw .invalidPath("'\(text.prefix(120))' names an unknown sub-attribute")
                }
                resolved = ResolvedPath(container: resolved.container, schemaURN: resolved.schemaURN, attribute: resolved.attribute,
                                        subAttribute: d)
            }
        }
        if resolved.target.type == .complex {
            guard let v = resolved.attribute.subAttribute(named: "value") else {
                throw .invalidPath("'\(text.prefix(120))' is complex; name one of its sub-attributes")
            }
            resolved = ResolvedPath(container: resolved.container, schemaURN: resolved.schemaURN, attribute: resolved.attribute,
                                    subAttribute: v)
        }
        self.path = resolved
        self.filter = filter
        self.text = text
    }

    /// The type of the selected values.
    public var type: AttributeType { path.target.type }
    /// Whether a document may hold several values here (a multi-valued attribute or a sub-attribute of one).
    public var multiValued: Bool { path.attribute.multiValued || path.target.multiValued }

    /// The selected values in document order (nulls left out). When `primaryFirst`, the value of the element marked
    /// `"primary": true` comes first (RFC 7643 §2.4: the primary value is the preferred one).
    public func values(in document: JSONObject, primaryFirst: Bool = true) -> [JSONValue] {
        guard let top = ResolvedFilter.container(path.container, of: document)?[caseInsensitive: path.attribute.name] else { return [] }
        guard let sub = path.subAttribute else { return ResolvedFilter.flatten(top) }
        var elements: [JSONValue]
        switch top {
        case .array(let a): elements = a
        case .object: elements = [top]
        default: return []
        }
        if let filter { elements = elements.filter { filter.matchesElement($0) } }
        if primaryFirst, let i = elements.firstIndex(where: { $0[caseInsensitive: "primary"] == .bool(true) }), i > 0 {
            elements.insert(elements.remove(at: i), at: 0)
        }
        var out: [JSONValue] = []
        for e in elements { out.append(contentsOf: ResolvedFilter.flatten(e[caseInsensitive: sub.name])) }
        return out
    }

    public var description: String { text }
}
