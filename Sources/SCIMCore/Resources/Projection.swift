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
public struct Projection: Sendable {
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
    /// The IdP quirks the parameters needed (a value filter inside `attributes`).
    public private(set) var quirks = QuirkSet()
    /// Decisions precomputed per attribute (by canonical name), so applying to many resources is cheap.
    var coreDecisions: [String: (AttributeDefinition, Decision)] = [:]
    var extensionDecisions: [String: [String: (AttributeDefinition, Decision)]] = [:]

    /// The default projection (returned: always + default).
    public init(schema: ResourceSchema) {
        self.init(schema: schema, mode: .defaults)
    }

    /// Parses the two query parameters (comma-separated attribute paths).
    public init(schema: ResourceSchema, attributes: String?, excludedAttributes: String?) {
        var quirks = QuirkSet()
        if let a = attributes, !a.isEmpty {
            self.init(schema: schema, mode: .include(Projection.keys(a, schema, quirks: &quirks)))
            self.quirks = quirks
        } else if let e = excludedAttributes, !e.isEmpty {
            self.init(schema: schema, mode: .exclude(Projection.keys(e, schema, quirks: &quirks)))
            self.quirks = quirks
        } else {
            self.init(schema: schema, mode: .defaults)
        }
    }

    init(schema: ResourceSchema, mode: Mode) {
        self.schema = schema
        self.mode = mode
        for def in CommonAttributes.all + schema.core.attributes {
            coreDecisions[def.name] = (def, decision(.core, def))
        }
        for (ext, _) in schema.extensions {
            var d: [String: (AttributeDefinition, Decision)] = [:]
            for def in ext.attributes { d[def.name] = (def, decision(.extension(ext.id), def)) }
            extensionDecisions[ext.id] = d
        }
    }

    /// Looks up by exact canonical key first (stored documents are normalised), then ignoring case.
    static func entry(_ table: [String: (AttributeDefinition, Decision)], _ key: String) -> (AttributeDefinition, Decision)? {
        if let e = table[key] { return e }
        for (k, e) in table where asciiCaseInsensitiveEquals(k, key) { return e }
        return nil
    }

    static func keys(_ list: String, _ schema: ResourceSchema, quirks: inout QuirkSet) -> Set<Key> {
        var out = Set<Key>()
        for raw in list.split(separator: ",") {
            var item = raw.trimmingSpaces()
            // IdPQuirk.valueFilterInAttributesParameter: `emails[type eq "work"]` selects `emails` [docs/idp-behaviour.md#microsoft-reference-tests].
            if let bracket = item.firstIndex(of: "[") {
                quirks.insert(.valueFilterInAttributesParameter)
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

    /// Whether this is the schema's default projection (no `attributes` or `excludedAttributes`).
    public var isDefault: Bool {
        if case .defaults = mode { return true }
        return false
    }

    /// Whether a top-level attribute (canonical name, e.g. "members") will appear in the output at all,
    /// so a storage layer can skip loading it.
    public func includes(_ attribute: String) -> Bool {
        guard let (_, d) = Projection.entry(coreDecisions, attribute) else { return false }
        return d != .drop
    }

    /// Whether anything of an extension (by its schema id) will appear in the output.
    public func includesExtension(_ id: String) -> Bool {
        guard let table = extensionDecisions[id] else { return false }
        return table.values.contains { $0.1 != .drop }
    }

    enum Decision: Equatable {
        case keep
        case drop
        case subAttributes(include: Set<String>?, exclude: Set<String>)
    }

    func decision(_ container: AttributeContainer, _ def: AttributeDefinition) -> Decision {
        // writeOnly implies never returned (RFC 7643 §7), whatever `returned` says.
        if def.returned == .never || def.mutability == .writeOnly { return .drop }
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
            if let (def, d) = Projection.entry(coreDecisions, key) {
                if let v = project(value, def, d) { out.appendUnchecked(key: key, value: v) }
            } else if let ext = schema.extensionSchema(urn: key), case .object(let o) = value,
                      let table = extensionDecisions[ext.id] {
                var e = JSONObject()
                for (k, v) in o {
                    guard let (def, d) = Projection.entry(table, k) else { continue }
                    if let pv = project(v, def, d) { e.appendUnchecked(key: k, value: pv) }
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
            // Fast path: nothing to filter inside when every sub-attribute is returned by default.
            if d == .keep, def.subAttributes.allSatisfy({ $0.returned != .never && $0.returned != .request && $0.mutability != .writeOnly }) {
                return value
            }
            var include: Set<String>? = nil
            var exclude: Set<String> = []
            if case .subAttributes(let i, let e) = d { include = i; exclude = e }
            func element(_ v: JSONValue) -> JSONValue? {
                guard case .object(let o) = v else { return v }
                var r = JSONObject()
                for (k, sv) in o {
                    guard let sub = def.subAttribute(named: k), sub.mutability != .writeOnly else { continue }
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
