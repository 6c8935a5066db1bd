public import JSON

// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) with the `returned` rules of RFC 7643 §7:
// - never: not returned (password), whatever was asked;
// - always: returned (id, schemas), even when excluded;
// - default: returned unless excluded, or — when `attributes` is given — only if listed;
// - request: returned only when listed in `attributes`.
// Names may be URN-qualified and may name sub-attributes; a whole extension URN selects the extension.
// When both parameters are given, `attributes` wins (RFC 7644 leaves the combination undefined).
// Unknown names are ignored.

/// A parsed projection, applied to each resource before it is returned.
public struct Projection: Sendable, Hashable {
    struct Key: Hashable, Sendable {
        var container: AttributeContainer
        var name: String  // lowercased canonical name; "" selects a whole extension object
        var sub: String?  // lowercased canonical sub-attribute name
    }

    enum Mode: Hashable, Sendable {
        case defaults
        case include(Set<Key>)
        case exclude(Set<Key>)
    }

    let schema: ResourceSchema
    let mode: Mode

    /// The default projection (returned: always + default).
    public init(schema: ResourceSchema) {
        self.schema = schema
        self.mode = .defaults
    }

    /// Parses the two query parameters (comma-separated attribute paths).
    public init(schema: ResourceSchema, attributes: String?, excludedAttributes: String?) {
        self.schema = schema
        if let a = attributes, !a.isEmpty {
            mode = .include(Projection.keys(a, schema))
        } else if let e = excludedAttributes, !e.isEmpty {
            mode = .exclude(Projection.keys(e, schema))
        } else {
            mode = .defaults
        }
    }

    static func keys(_ list: String, _ schema: ResourceSchema) -> Set<Key> {
        var out = Set<Key>()
        for raw in list.split(separator: ",") {
            var item = raw.trimmingSpaces()
            // IdPQuirk.valueFilterInAttributesParameter: `emails[type eq "work"]` selects `emails` [E5].
            if let bracket = item.firstIndex(of: "[") {
                let close = item.lastIndex(of: "]")
                var rebuilt = String(item[..<bracket])
                if let c = close, item.index(after: c) < item.endIndex { rebuilt += item[item.index(after: c)...] }
                item = Substring(rebuilt)
            }
            guard let p = AttributePath(parsing: item), let target = try? schema.resolveTarget(p) else { continue }
            switch target {
            case .extensionObject(let ext): out.insert(Key(container: .extension(ext.id), name: "", sub: nil))
            case .attribute(let r):
                out.insert(Key(container: r.container, name: r.attribute.name.lowercased(), sub: r.subAttribute?.name.lowercased()))
            }
        }
        return out
    }

    /// Whether a top-level attribute (canonical name, e.g. "members") will appear in the output at all,
    /// so a storage layer can skip loading it.
    public func includes(_ attribute: String) -> Bool {
        guard let def = schema.coreAttribute(named: attribute) else { return false }
        return decision(.core, def) != .drop
    }

    enum Decision: Equatable {
        case keep
        case drop
        case subAttributes(include: Set<String>?, exclude: Set<String>)
    }

    func decision(_ container: AttributeContainer, _ def: AttributeDefinition) -> Decision {
        if def.returned == .never { return .drop }
        if def.returned == .always { return .keep }
        let name = def.name.lowercased()
        switch mode {
        case .defaults:
            return def.returned == .request ? .drop : .keep
        case .include(let keys):
            if keys.contains(Key(container: container, name: name, sub: nil)) { return .keep }
            if case .extension(let urn) = container, keys.contains(Key(container: .extension(urn), name: "", sub: nil)) {
                return def.returned == .request ? .drop : .keep
            }
            let subs = Set(keys.compactMap { $0.container == container && $0.name == name ? $0.sub : nil })
            return subs.isEmpty ? .drop : .subAttributes(include: subs, exclude: [])
        case .exclude(let keys):
            if def.returned == .request { return .drop }
            if keys.contains(Key(container: container, name: name, sub: nil)) { return .drop }
            if case .extension(let urn) = container, keys.contains(Key(container: .extension(urn), name: "", sub: nil)) { return .drop }
            let subs = Set(keys.compactMap { $0.container == container && $0.name == name ? $0.sub : nil })
            return subs.isEmpty ? .keep : .subAttributes(include: nil, exclude: subs)
        }
    }

    /// Applies the projection to a stored resource (already stamped with id/meta).
    public func apply(to resource: JSONObject) -> JSONObject {
        var out = JSONObject()
        out.reserveCapacity(resource.count)
        for (key, value) in resource {
            if key == "schemas" { out.appendUnchecked(key: key, value: value); continue }
            if let def = schema.coreAttribute(named: key) {
                if let v = project(value, def, decision(.core, def)) { out.appendUnchecked(key: key, value: v) }
            } else if let ext = schema.extensionSchema(urn: key), case .object(let o) = value {
                var e = JSONObject()
                for (k, v) in o {
                    guard let def = ext.attribute(named: k) else { continue }
                    if let pv = project(v, def, decision(.extension(ext.id), def)) { e.appendUnchecked(key: k, value: pv) }
                }
                if !e.isEmpty { out.appendUnchecked(key: key, value: .object(e)) }
            }
        }
        return out
    }

    /// Applies the projection to a stored resource value.
    public func apply(to resource: JSONValue) -> JSONValue {
        guard case .object(let o) = resource else { return resource }
        return .object(apply(to: o))
    }

    func project(_ value: JSONValue, _ def: AttributeDefinition, _ d: Decision) -> JSONValue? {
        switch d {
        case .drop: return nil
        case .keep, .subAttributes:
            guard def.type == .complex else { return value }
            var include: Set<String>? = nil
            var exclude: Set<String> = []
            if case .subAttributes(let i, let e) = d { include = i; exclude = e }
            func element(_ v: JSONValue) -> JSONValue? {
                guard case .object(let o) = v else { return v }
                var r = JSONObject()
                for (k, sv) in o {
                    guard let sub = def.subAttribute(named: k) else { continue }
                    let n = sub.name.lowercased()
                    switch sub.returned {
                    case .never: continue
                    case .always: break
                    case .request: if !(include?.contains(n) ?? false) { continue }
                    case .default:
                        if let inc = include, !inc.contains(n) { continue }
                        if exclude.contains(n) { continue }
                    }
                    r.appendUnchecked(key: k, value: sv)
                }
                return r.isEmpty ? nil : .object(r)
            }
            if case .array(let a) = value {
                let items = a.compactMap(element)
                return items.isEmpty ? nil : .array(items)
            }
            return element(value)
        }
    }
}
