public import JSON
public import SCIMCore
import Postgres

/// Who is asking: what the gateway's signed headers (or development mode) established.
public struct RequestScope: Sendable, Equatable {
    /// The tenant id (canonical UUID text).
    public var tenant: String
    /// The public SCIM base URL the IdP used, without a trailing slash (e.g. `https://eu2-api.example.com/scim/v2`).
    public var baseURL: String
    /// The request id for logs and the `X-Request-Id` answer header.
    public var requestID: String

    /// A scope; a trailing slash on the base URL is dropped.
    public init(tenant: String, baseURL: String, requestID: String) {
        self.tenant = tenant
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.requestID = requestID
    }
}

/// The result of a SCIM operation, before HTTP rendering (also what one Bulk operation yields).
public enum SCIMOutcome: Sendable {
    /// One resource: 200 or 201 (with `Location`), `ETag` from the version.
    case resource(status: Int, body: JSONObject, version: Int64, location: String?)
    /// A ListResponse.
    case list(ListResponse)
    /// Any other JSON document with 200 (discovery, BulkResponse, tenant settings).
    case document(status: Int, JSONValue)
    /// 204, with the new version when there is one.
    case noContent(version: Int64?)
    /// 304 for `If-None-Match`.
    case notModified(version: Int64)

    /// The HTTP status code.
    public var status: Int {
        switch self {
        case .resource(let status, _, _, _): status
        case .list: 200
        case .document(let status, _): status
        case .noContent: 204
        case .notModified: 304
        }
    }
}

extension SCIMError {
    /// 404 for a resource id that does not exist in this tenant.
    static func resourceNotFound(_ kind: ResourceKind, _ id: String) -> SCIMError {
        .notFound("\(kind.rawValue) \(id.prefix(64)) not found")
    }

    /// 412 for a failed `If-Match`.
    static let preconditionFailed = SCIMError(status: 412, detail: "the resource has changed: its version does not match If-Match")

    /// Maps a database failure to what the client sees. Messages are fixed phrases: never SQL, never data.
    static func from(_ error: PostgresError, region: String) -> SCIMError {
        if error.kind == .uniqueViolation {
            switch error.constraint {
            case "users_user_name_key": return .uniqueness("userName is already in use in this tenant")
            case "groups_display_name_key": return .uniqueness("a group with this displayName already exists")
            default: return .uniqueness("a unique attribute is already in use")
            }
        }
        if error.kind == .foreignKeyViolation { return .tenantNotProvisioned(region: region) }
        if error.kind == .invalidParameter { return .invalidValue("string values must not contain the NUL character") }
        // 22P05 untranslatable character, 22021 bad encoding, 54000 program limit (e.g. an index row too large).
        if let state = error.sqlState, state == "22P05" || state == "22021" || state == "54000" {
            return .invalidValue("a value cannot be stored (unsupported character or too large)")
        }
        if error.isTransient || error.kind == .queryCanceled {
            return SCIMError(status: 503, detail: "the region database is unavailable; retry later")
        }
        return SCIMError(status: 500, detail: "internal error")
    }
}

/// Turning stored rows into SCIM representations.
/// What rendering needs from a schema, computed once per tenant context: attribute names in schema order and the
/// sub-attribute order of complex attributes. (Walking the full attribute definitions on every request was a large
/// share of a GET's instructions.)
struct RenderPlan: Sendable {
    struct Attribute: Sendable {
        var name: String
        /// Sub-attribute names in definition order, for complex attributes.
        var subOrder: [String]?
    }
    var related: String
    var core: [Attribute]
    var extensions: [(id: String, attributes: [Attribute])]

    init(_ kind: ResourceKind, _ schema: ResourceSchema) {
        func attribute(_ def: AttributeDefinition) -> Attribute {
            Attribute(name: def.name, subOrder: def.type == .complex ? def.subAttributes.map(\.name) : nil)
        }
        related = kind.relatedAttribute
        core = (CommonAttributes.all + schema.core.attributes).map(attribute)
        extensions = schema.extensions.map { (ext, _) in (ext.id, ext.attributes.map(attribute)) }
    }
}

enum Representation {
    /// The resource as returned: `schemas`, `id`, attributes in schema order (jsonb does not keep key order),
    /// the row-backed attribute, then `meta`.
    static func render(_ stored: StoredResource, _ kind: ResourceKind, _ schema: ResourceSchema, plan: RenderPlan,
                       baseURL: String) -> JSONObject {
        var doc = JSONObject()
        doc.reserveCapacity(stored.document.count + 2)
        if let schemas = stored.document["schemas"] { doc.appendUnchecked(key: "schemas", value: schemas) }
        for attribute in plan.core {
            if attribute.name == plan.related {
                if let related = stored.related, !related.isEmpty {
                    doc.appendUnchecked(key: attribute.name, value: .array(related.map(\.json)))
                }
                continue
            }
            if let v = stored.document[attribute.name] {
                doc.appendUnchecked(key: attribute.name, value: ordered(v, attribute.subOrder))
            }
        }
        for ext in plan.extensions {
            guard case .object(let o)? = stored.document[ext.id] else { continue }
            var e = JSONObject()
            for attribute in ext.attributes {
                if let v = o[attribute.name] { e.appendUnchecked(key: attribute.name, value: ordered(v, attribute.subOrder)) }
            }
            for (k, v) in o where e[k] == nil { e.appendUnchecked(key: k, value: v) }
            doc.appendUnchecked(key: ext.id, value: .object(e))
        }
        // Anything else stored (a schema the tenant has since removed) is kept rather than silently lost.
        for (k, v) in stored.document where k != plan.related && doc[k] == nil { doc.appendUnchecked(key: k, value: v) }
        let meta = ResourceMeta(resourceType: kind.rawValue, created: stored.created.iso8601,
                                lastModified: stored.lastModified.iso8601,
                                location: location(kind, stored.id, baseURL: baseURL), version: String(stored.version))
        return schema.stamp(doc, id: stored.id, meta: meta)
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
