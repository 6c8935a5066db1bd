package import JSON
package import SCIMCore
import Postgres

package enum Representation {
    /// The resource as returned: `schemas`, `id`, attributes in schema order (jsonb does not keep key order),
    /// the row-backed attribute, then `meta` (the layout `ResourceSchema.stamp` gives, built in one pass). With a
    /// `selection` (from the request's projection), parts the projection drops are not built at all; the caller
    /// still applies the projection to the result.
    package static func render(_ stored: StoredResource, _ kind: ResourceKind, _ schema: ResourceSchema, plan: RenderPlan,
                       baseURL: String, selection: RenderPlan.Selection? = nil) -> JSONObject {
        var doc = JSONObject()
        doc.reserveCapacity(stored.document.count + 3)
        if let schemas = stored.document["schemas"] { doc.appendUnchecked(key: "schemas", value: schemas) }
        doc.appendUnchecked(key: "id", value: .string(stored.id))
        for (index, attribute) in plan.core.enumerated() {
            if let selection, !selection.core[index] { continue }
            if index == plan.relatedIndex {
                if let related = stored.related, !related.isEmpty {
                    doc.appendUnchecked(key: attribute.name, value: .array(related.map(\.json)))
                }
                continue
            }
            if let v = stored.document[attribute.name] {
                doc.appendUnchecked(key: attribute.name, value: ordered(v, attribute.subOrder))
            }
        }
        for (index, ext) in plan.extensions.enumerated() {
            if let selection, !selection.extensions[index] { continue }
            guard case .object(let o)? = stored.document[ext.id] else { continue }
            var e = JSONObject()
            for attribute in ext.attributes {
                if let v = o[attribute.name] { e.appendUnchecked(key: attribute.name, value: ordered(v, attribute.subOrder)) }
            }
            for (k, v) in o where e[k] == nil { e.appendUnchecked(key: k, value: v) }
            doc.appendUnchecked(key: ext.id, value: .object(e))
        }
        // Anything else stored (a schema the tenant has since removed) is kept rather than silently lost. Not with a
        // selection: every projection drops what no current schema names, so those keys would be built to be thrown
        // away (and the attributes left out above are left out on purpose).
        if selection == nil {
            for (k, v) in stored.document where k != plan.related && k != "schemas" && k != "id" && k != "meta" && doc[k] == nil {
                doc.appendUnchecked(key: k, value: v)
            }
        }
        if selection?.meta ?? true {
            let meta = ResourceMeta(resourceType: kind.rawValue, created: stored.created.iso8601,
                                    lastModified: stored.lastModified.iso8601,
                                    location: location(kind, stored.id, baseURL: baseURL), version: String(stored.version))
            doc.appendUnchecked(key: "meta", value: meta.json)
        }
        return doc
    }

    /// Sub-attributes of complex values in definition order (`value` first, as clients expect to read them).
    static func ordered(_ value: JSONValue, _ subOrder: [String]?) -> JSONValue {
        guard let subOrder else { return value }
        func one(_ v: JSONValue) -> JSONValue {
            guard case .object(let o) = v else { return v }
            var r = JSONObject()
            r.reserveCapacity(o.count)
            for sub in subOrder { if let s = o[sub] { r.appendUnchecked(key: sub, value: s) } }
            for (k, s) in o where r[k] == nil { r.appendUnchecked(key: k, value: s) }
            return .object(r)
        }
        if case .array(let a) = value { return .array(a.map(one)) }
        return one(value)
    }

    static func location(_ kind: ResourceKind, _ id: String, baseURL: String) -> String {
        baseURL + kind.endpoint + "/" + id
    }
}
