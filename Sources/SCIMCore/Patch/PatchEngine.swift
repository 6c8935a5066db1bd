public import JSON

// The PATCH engine (RFC 7644 §3.5.2).
//
// Atomicity: operations apply in order to a copy of the document; any error throws and the caller keeps the
// original, so either all operations apply or none do.
//
// Decisions where the RFC is silent or where real IdPs need more than it says:
// - add/replace on a value filter that matches nothing creates the element when the filter is a conjunction of
//   `eq` comparisons (`emails[type eq "work"].value` → {"type":"work","value":…}), so several sub-attribute ops on
//   one filtered element build one element (Entra, IdPQuirk.valueFilterCreatesElement [docs/idp-behaviour.md#entra-default-dialect-patch]). Any other filter that
//   matches nothing is `400 noTarget` (RFC 7644 §3.5.2.3).
// - remove with a value filter that matches nothing succeeds without change (deletes are idempotent).
// - A value whose `primary` becomes true clears `primary` on the attribute's other values (RFC 7644 §3.5.2).
// - readOnly targets are `400 mutability`; immutable attributes may only be set when they have no value yet;
//   removing a required attribute is `400 invalidValue`.
// - `null` as the value of add/replace means "unassigned" (RFC 7643 §2.5) and removes the target.

extension ResourceSchema {
    /// Applies a PATCH atomically to a stored document.
    public func applyPatch(_ request: PatchRequest, to document: JSONObject) throws(SCIMError) -> PatchResult {
        var engine = PatchEngine(schema: self, doc: document)
        engine.quirks = request.quirks
        for (i, op) in request.operations.enumerated() {
            do {
                try engine.apply(op)
            } catch {
                var e = error
                if let d = e.detail { e.detail = "operation \(i): " + d }
                throw e
            }
        }
        try engine.checkRequired()
        engine.fixSchemas()
        let changed = Self.changedAttributes(before: document, after: engine.doc, schema: self)
        var result = PatchResult(document: engine.doc, documentChanged: engine.doc != document,
                                 membershipChanges: engine.membership, writeOnlyValues: engine.writeOnly,
                                 changedAttributes: changed)
        result.quirks = engine.quirks
        return result
    }

    /// Attributes whose value differs, walking only the keys present (documents are normalised, keys canonical).
    static func changedAttributes(before: JSONObject, after: JSONObject, schema: ResourceSchema) -> [String] {
        var out: [String] = []
        func note(_ key: String, _ b: JSONValue?, _ a: JSONValue?) {
            if let ext = schema.extensionSchema(urn: key) {
                let bo = b?.object ?? JSONObject(), ao = a?.object ?? JSONObject()
                for (k, v) in ao where bo[caseInsensitive: k] != v { out.append(ext.id + ":" + (ext.attribute(named: k)?.name ?? k)) }
                for (k, _) in bo where ao[caseInsensitive: k] == nil { out.append(ext.id + ":" + (ext.attribute(named: k)?.name ?? k)) }
            } else {
                out.append(schema.coreAttribute(named: key)?.name ?? key)
            }
        }
        for (k, v) in after {
            let old = before[k] ?? before[caseInsensitive: k]
            if old != v { note(k, old, v) }
        }
        for (k, v) in before where after[k] == nil && after[caseInsensitive: k] == nil { note(k, v, nil) }
        return out
    }
}

/// The mutable state of one PATCH application.
struct PatchEngine {
    let schema: ResourceSchema
    var doc: JSONObject
    var membership: [MembershipChange] = []
    var writeOnly = JSONObject()
    var quirks = QuirkSet()

    init(schema: ResourceSchema, doc: JSONObject) {
        self.schema = schema
        self.doc = doc
    }

    mutating func apply(_ op: PatchOperation) throws(SCIMError) {
        guard let path = op.path else { return try applyNoPath(op.op, op.value) }
        let target: PathTarget
        do { target = try schema.resolveTarget(path.attribute) } catch {
            throw .invalidPath(error.detail(path.attribute.description))
        }
        switch target {
        case .extensionObject(let ext):
            guard path.filter == nil, path.subAttribute == nil else { throw .invalidPath("a schema URN cannot take a value filter") }
            try applyExtensionObject(op.op, ext, op.value)
        case .attribute(let r):
            var filter: ResolvedFilter? = nil
            var sub = r.subAttribute
            if let f = path.filter {
                guard r.subAttribute == nil, r.attribute.type == .complex else {
                    throw .invalidPath("'\(path.attribute)' cannot take a value filter")
                }
                do { filter = try schema.resolve(f, parent: r) } catch { throw .invalidPath(error.detail ?? "invalid value filter") }
                if let s = path.subAttribute {
                    guard let d = r.attribute.subAttribute(named: s) else { throw .invalidPath("'\(path)' names an unknown sub-attribute") }
                    sub = d
                }
            }
            try applyAttribute(op.op, r, filter: filter, sub: sub, value: op.value)
        }
    }

    // MARK: No path

    mutating func applyNoPath(_ op: PatchOp, _ value: JSONValue?) throws(SCIMError) {
        guard case .object(let o)? = value else {
            throw .invalidValue("without a 'path' the value must be a JSON object of attributes")
        }
        for (key, v) in o {
            if let ext = schema.extensionSchema(urn: key) {
                try applyExtensionObject(op, ext, v)
                continue
            }
            if IdPDialect.isIgnoredNoPathKey(key, schema.coreAttribute(named: key)) {
                quirks.insert(.readOnlyKeysInNoPathValue)
                continue
            }
            // IdPQuirk.dottedKeysInNoPathValue: keys may be `name.givenName` or `urn:…:User:employeeNumber`.
            guard let p = AttributePath(parsing: Substring(key)), case .attribute(let r)? = try? schema.resolveTarget(p) else {
                continue  // unknown attributes are ignored, as on create/replace
            }
            if r.attribute.mutability == .readOnly {
                quirks.insert(.readOnlyKeysInNoPathValue)
                continue
            }
            if p.subAttribute != nil || p.schemaURN != nil { quirks.insert(.dottedKeysInNoPathValue) }
            try applyAttribute(op, r, filter: nil, sub: r.subAttribute, value: v)
        }
    }

    mutating func applyExtensionObject(_ op: PatchOp, _ ext: Schema, _ value: JSONValue?) throws(SCIMError) {
        if op == .remove || value?.isNull == true {
            if op == .add { return }
            for def in ext.attributes where def.required {
                throw .invalidValue("required attribute '\(ext.id):\(def.name)' cannot be removed")
            }
            if let i = doc.index(forCaseInsensitiveKey: ext.id) { doc.remove(at: i) }
            return
        }
        guard case .object(let o)? = value else { throw .invalidValue("the value for '\(ext.id)' must be a JSON object") }
        if op == .replace, o.isEmpty { return }
        for (k, v) in o {
            guard let def = ext.attribute(named: k) else { continue }
            if def.mutability == .readOnly { continue }
            let r = ResolvedPath(container: .extension(ext.id), schemaURN: ext.id, attribute: def, subAttribute: nil)
            try applyAttribute(op, r, filter: nil, sub: nil, value: v)
        }
    }

    // MARK: Slots

    func slot(_ r: ResolvedPath) -> JSONValue? {
        switch r.container {
        case .core: return doc[caseInsensitive: r.attribute.name]
        case .extension(let urn): return doc[caseInsensitive: urn]?[caseInsensitive: r.attribute.name]
        }
    }

    mutating func setSlot(_ r: ResolvedPath, _ value: JSONValue?) {
        switch r.container {
        case .core:
            Self.set(&doc, r.attribute.name, value)
        case .extension(let urn):
            var ext = JSONObject()
            var key = urn
            if let i = doc.index(forCaseInsensitiveKey: urn) {
                key = doc[i].key
                ext = doc[i].value.object ?? JSONObject()
                doc.setValue(.null, at: i)  // release the nested object so it can be mutated in place
            }
            Self.set(&ext, r.attribute.name, value)
            Self.set(&doc, key, ext.isEmpty ? nil : .object(ext))
        }
    }

    /// Sets `key` (matched case-insensitively, written canonically); nil removes.
    static func set(_ o: inout JSONObject, _ key: String, _ value: JSONValue?) {
        if let i = o.index(forCaseInsensitiveKey: key) {
            if let v = value {
                if o[i].key == key { o.setValue(v, at: i) } else { o.remove(at: i); o.appendUnchecked(key: key, value: v) }
            } else {
                o.remove(at: i)
            }
        } else if let v = value {
            o.appendUnchecked(key: key, value: v)
        }
    }

    // MARK: Attribute operations

    mutating func applyAttribute(_ op: PatchOp, _ r: ResolvedPath, filter: ResolvedFilter?, sub: AttributeDefinition?,
                                 value: JSONValue?) throws(SCIMError) {
        let attr = r.attribute
        let label = r.description
        if attr.mutability == .readOnly || sub?.mutability == .readOnly {
            throw .mutability("attribute '\(label)' is readOnly")
        }
        if case .core = r.container, schema.isExternal(attr.name) {
            return try applyMembership(op, r, filter: filter, sub: sub, value: value)
        }
        if attr.mutability == .writeOnly {
            // writeOnly values (password) never enter the document.
            switch op {
            case .remove: Self.set(&writeOnly, attr.name, .null)
            case .add, .replace:
                let v = try value.flatMap { (v) throws(SCIMError) in try ValueNormaliser.normalise(v, attr, path: label, quirks: &quirks) }
                Self.set(&writeOnly, attr.name, v ?? .null)
            }
            return
        }
        let before = slot(r)
        var after = before
        if let filter {
            try applyFiltered(op, attr, filter: filter, sub: sub, value: value, current: &after, label: label)
        } else if let sub {
            try applySubAttribute(op, attr, sub: sub, value: value, current: &after, label: label)
        } else {
            try applyWhole(op, attr, value: value, current: &after, label: label)
        }
        if after == before { return }
        // RFC 7644 §3.5.2: an immutable attribute may only be given a value when it has none.
        if attr.mutability == .immutable || sub?.mutability == .immutable, before != nil {
            throw .mutability("attribute '\(label)' is immutable and already has a value")
        }
        setSlot(r, after)
    }

    mutating func normalised(_ value: JSONValue?, _ def: AttributeDefinition, _ label: String) throws(SCIMError) -> JSONValue? {
        guard let value else { return nil }
        return try ValueNormaliser.normalise(value, def, path: label, quirks: &quirks)
    }

    /// add/replace/remove of a whole attribute (no sub-attribute, no filter).
    mutating func applyWhole(_ op: PatchOp, _ attr: AttributeDefinition, value: JSONValue?, current: inout JSONValue?, label: String) throws(SCIMError) {
        switch op {
        case .remove:
            if attr.multiValued, let v = value, case .array(var elements)? = current {
                // IdPQuirk.memberRemovalByValueArray, generalised: remove the listed values from a multi-valued attribute.
                quirks.insert(.memberRemovalByValueArray)
                let removeList = try normalised(v, attr, label)?.array ?? []
                elements.removeAll { e in removeList.contains { Self.sameValue($0, e) } }
                current = elements.isEmpty ? nil : .array(elements)
            } else {
                current = nil
            }
        case .replace:
            let new = try normalised(value, attr, label)
            if attr.type == .complex, !attr.multiValued, case .object(let n)? = new, case .object(var old)? = current {
                // RFC 7644 §3.5.2.3: sub-attributes not given are left unchanged.
                for (k, v) in n { Self.set(&old, k, v) }
                current = .object(old)
            } else {
                current = new
            }
        case .add:
            guard let new = try normalised(value, attr, label) else {
                // Unassigned (null, or Entra's "" / {"value":""} for a complex attribute [docs/idp-behaviour.md#microsoft-scim-validator]) removes a single-valued
                // attribute; adding no values to a multi-valued attribute changes nothing.
                if !attr.multiValued { current = nil }
                return
            }
            if attr.multiValued {
                var elements = current?.array ?? []
                var written: [Int] = []
                for n in new.array ?? [new] {
                    // RFC 7644 §3.5.2.1: a value already present is not added again.
                    if let i = elements.firstIndex(where: { $0 == n }) { written.append(i); continue }
                    elements.append(n)
                    written.append(elements.count - 1)
                }
                Self.enforcePrimary(&elements, written: written)
                current = .array(elements)
            } else if attr.type == .complex, case .object(let n) = new, case .object(var old)? = current {
                for (k, v) in n { Self.set(&old, k, v) }
                current = .object(old)
            } else {
                current = new
            }
        }
    }

    /// Ops on `attr.sub` without a filter: a single complex attribute, or every value of a multi-valued one.
    mutating func applySubAttribute(_ op: PatchOp, _ attr: AttributeDefinition, sub: AttributeDefinition, value: JSONValue?,
                           current: inout JSONValue?, label: String) throws(SCIMError) {
        let new: JSONValue? = op == .remove ? nil : try normalised(value, sub, label)
        if attr.multiValued {
            var elements = current?.array ?? []
            if elements.isEmpty {
                guard let n = new else { return }
                elements = [.object([sub.name: n])]
            } else {
                for i in elements.indices {
                    guard case .object(var o) = elements[i] else { continue }
                    Self.set(&o, sub.name, new)
                    elements[i] = .object(o)
                }
                elements.removeAll { $0.object?.isEmpty == true }
            }
            if new == .bool(true), sub.name == "primary" { Self.enforcePrimary(&elements, written: [elements.count - 1]) }
            current = elements.isEmpty ? nil : .array(elements)
        } else {
            var o = current?.object ?? JSONObject()
            Self.set(&o, sub.name, new)
            current = o.isEmpty ? nil : .object(o)
        }
    }

    /// Ops on `attr[filter]` and `attr[filter].sub`.
    mutating func applyFiltered(_ op: PatchOp, _ attr: AttributeDefinition, filter: ResolvedFilter, sub: AttributeDefinition?,
                       value: JSONValue?, current: inout JSONValue?, label: String) throws(SCIMError) {
        var elements: [JSONValue]
        switch current {
        case .array(let a)?: elements = a
        case .object?: elements = [current!]
        default: elements = []
        }
        let matched = elements.indices.filter { filter.matchesElement(elements[$0]) }
        var written: [Int] = []
        switch op {
        case .remove:
            if let sub {
                for i in matched {
                    guard case .object(var o) = elements[i] else { continue }
                    Self.set(&o, sub.name, nil)
                    elements[i] = .object(o)
                }
                elements.removeAll { $0.object?.isEmpty == true }
            } else {
                for i in matched.reversed() { elements.remove(at: i) }
            }
        case .add, .replace:
            if let sub {
                let new = try normalised(value, sub, label)
                if matched.isEmpty {
                    guard let n = new else { return }
                    var element = try Self.elementFromFilter(filter, label: label)
                    quirks.insert(.valueFilterCreatesElement)
                    Self.set(&element, sub.name, n)
                    elements.append(.object(element))
                    written.append(elements.count - 1)
                } else {
                    for i in matched {
                        guard case .object(var o) = elements[i] else { continue }
                        Self.set(&o, sub.name, new)
                        elements[i] = .object(o)
                        written.append(i)
                    }
                    elements.removeAll { $0.object?.isEmpty == true }
                }
            } else {
                let single = AttributeDefinition(attr.name, attr.type, subAttributes: attr.subAttributes)
                let new = try normalised(value, single, label)
                guard case .object(let n)? = new else {
                    if value?.isNull == true { for i in matched.reversed() { elements.remove(at: i) }; break }
                    throw .invalidValue("the value for '\(label)' must be a JSON object")
                }
                if matched.isEmpty {
                    var element = try Self.elementFromFilter(filter, label: label)
                    quirks.insert(.valueFilterCreatesElement)
                    for (k, v) in n { Self.set(&element, k, v) }
                    elements.append(.object(element))
                    written.append(elements.count - 1)
                } else {
                    for i in matched {
                        if op == .replace {
                            elements[i] = .object(n)  // RFC 7644 §3.5.2.3: matching values are replaced
                        } else if case .object(var o) = elements[i] {
                            for (k, v) in n { Self.set(&o, k, v) }
                            elements[i] = .object(o)
                        }
                        written.append(i)
                    }
                }
            }
        }
        if !written.isEmpty { Self.enforcePrimary(&elements, written: written) }
        if attr.multiValued {
            current = elements.isEmpty ? nil : .array(elements)
        } else {
            current = elements.first
        }
    }

    /// The element implied by a conjunction of `eq` comparisons (IdPQuirk.valueFilterCreatesElement).
    static func elementFromFilter(_ f: ResolvedFilter, label: String) throws(SCIMError) -> JSONObject {
        var o = JSONObject()
        func collect(_ f: ResolvedFilter) -> Bool {
            switch f {
            case .compare(let p, .eq, let v):
                guard let sub = p.subAttribute else { return false }
                let j: JSONValue
                switch v {
                case .string(let s): j = .string(s)
                case .number(let n): j = .number(n)
                case .bool(let b): j = .bool(b)
                case .null: return false
                }
                set(&o, sub.name, j)
                return true
            case .and(let l, let r): return collect(l) && collect(r)
            default: return false
            }
        }
        guard collect(f) else { throw .noTarget("no value of '\(label)' matches the filter") }
        return o
    }

    /// Equality used for "remove these values": by `value` sub-attribute when both have one, else whole value.
    static func sameValue(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if case .object(let x) = a, case .object(let y) = b, let vx = x[caseInsensitive: "value"], let vy = y[caseInsensitive: "value"] {
            return vx == vy
        }
        return a == b
    }

    /// If a written value is primary, clear `primary` on every other value (RFC 7644 §3.5.2).
    static func enforcePrimary(_ elements: inout [JSONValue], written: [Int]) {
        guard let keep = written.last(where: { elements.indices.contains($0) && elements[$0][caseInsensitive: "primary"] == .bool(true) }) else {
            return
        }
        for i in elements.indices where i != keep {
            guard case .object(var o) = elements[i], let pi = o.index(forCaseInsensitiveKey: "primary"), o[pi].value == .bool(true) else { continue }
            o.setValue(.bool(false), at: pi)
            elements[i] = .object(o)
        }
    }

    // MARK: External members

    mutating func applyMembership(_ op: PatchOp, _ r: ResolvedPath, filter: ResolvedFilter?, sub: AttributeDefinition?,
                                  value: JSONValue?) throws(SCIMError) {
        let attr = r.attribute
        guard sub == nil else { throw .invalidPath("sub-attributes of '\(attr.name)' cannot be patched one by one") }
        func refs(_ v: JSONValue?) throws(SCIMError) -> [MemberRef] {
            guard let v else { return [] }
            let n = try ValueNormaliser.normalise(v, attr, path: attr.name, quirks: &quirks)
            return try MemberRef.list(from: n)
        }
        switch (op, filter) {
        case (.add, nil):
            let list = try refs(value)
            if !list.isEmpty { membership.append(.add(list)) }
        case (.replace, nil):
            membership.append(.replaceAll(try refs(value)))
        case (.remove, nil):
            if let v = value, !v.isNull {
                // IdPQuirk.memberRemovalByValueArray: Entra default dialect, JumpCloud [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#jumpcloud-patch-shapes].
                quirks.insert(.memberRemovalByValueArray)
                let ids = try refs(v).map(\.value)
                if !ids.isEmpty { membership.append(.remove(values: ids)) }
            } else {
                membership.append(.removeAll)
            }
        case (.remove, let f?):
            if let ids = Self.valueList(f) { membership.append(.remove(values: ids)) } else { membership.append(.removeMatching(f)) }
        case (.replace, let f?):
            if let ids = Self.valueList(f) { membership.append(.remove(values: ids)) } else { membership.append(.removeMatching(f)) }
            let list = try refs(value)
            if !list.isEmpty { membership.append(.add(list)) }
        case (.add, _?):
            let list = try refs(value)
            if !list.isEmpty { membership.append(.add(list)) }
        }
    }

    /// `value eq "a"` or `value eq "a" or value eq "b"` → ["a", "b"]; anything else → nil.
    static func valueList(_ f: ResolvedFilter) -> [String]? {
        switch f {
        case .compare(let p, .eq, .string(let s)) where p.subAttribute?.name == "value": return [s]
        case .or(let l, let r):
            guard let a = valueList(l), let b = valueList(r) else { return nil }
            return a + b
        default: return nil
        }
    }

    // MARK: Final checks

    func checkRequired() throws(SCIMError) {
        for def in schema.core.attributes where def.required && def.mutability != .readOnly && !schema.isExternal(def.name) {
            if doc[caseInsensitive: def.name] == nil {
                throw .invalidValue("required attribute '\(def.name)' cannot be removed")
            }
        }
        for (ext, required) in schema.extensions {
            guard let o = doc[caseInsensitive: ext.id]?.object else {
                if required { throw .invalidValue("required extension '\(ext.id)' cannot be removed") }
                continue
            }
            for def in ext.attributes where def.required && o[caseInsensitive: def.name] == nil {
                throw .invalidValue("required attribute '\(ext.id):\(def.name)' cannot be removed")
            }
        }
    }

    /// `schemas` lists the core schema and each extension that has data.
    mutating func fixSchemas() {
        var schemas: [JSONValue] = [.string(schema.core.id)]
        for (ext, _) in schema.extensions where doc[caseInsensitive: ext.id]?.object?.isEmpty == false {
            schemas.append(.string(ext.id))
        }
        let new = JSONValue.array(schemas)
        if doc["schemas"] != new { Self.set(&doc, "schemas", new) }
    }
}

extension String {
    func trimmingSpacesString() -> String {
        let t = Substring(self).trimmingSpaces()
        return t.count == count ? self : String(t)
    }
}
