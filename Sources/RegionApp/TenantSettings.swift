public import JSON
public import SCIMCore

/// What DELETE on a user does for a tenant.
public enum DeprovisionPolicy: String, Sendable, Hashable, CaseIterable {
    /// The row is deleted (GET answers 404 afterwards).
    case hard
    /// A tombstone kept for the operator: the id answers 404 forever, its group memberships are removed in the same
    /// transaction, and its userName and externalId are free again. A later POST with them creates a new user with
    /// a new id; nothing ever revives a tombstone.
    case soft
    /// DELETE is refused with 405 (Profit.co-style products that never delete users; deactivate instead).
    case refuse
}

/// A tenant's settings in this region, as the internal tenant API accepts and returns them.
///
/// ```json
/// {"name": "acme", "deprovisionPolicy": "soft",
///  "schemaExtensions": [{"resourceType": "User", "required": false,
///                        "schema": {"id": "urn:acme:params:scim:schemas:extension:acme:2.0:User", "name": "AcmeUser",
///                                   "attributes": [{"name": "badge", "type": "string"},
///                                                  {"name": "language", "type": "string", "validator": "iso639-1"}]}}],
///  "validators": [{"schema": "urn:ietf:params:scim:schemas:core:2.0:User", "attribute": "preferredLanguage",
///                  "rule": "iso639-1"},
///                 {"schema": "urn:ietf:params:scim:schemas:core:2.0:User", "attribute": "addresses.country",
///                  "rule": "iso3166-1-alpha2"}]}
/// ```
/// Extension attributes use the RFC 7643 §7 attribute representation (as `/Schemas` publishes it), plus an optional
/// `validator`. `validators` attaches a rule to any attribute or sub-attribute, core ones included.
public struct TenantSettings: Sendable, Equatable {
    /// The tenant's display name (operators' reference only).
    public var name: String
    /// What DELETE /Users/{id} does.
    public var deprovisionPolicy: DeprovisionPolicy
    /// Validated extension entries, kept in their JSON form (what is stored and returned).
    public var schemaExtensions: [JSONValue]
    /// Validated validator entries, in their JSON form.
    public var validators: [JSONValue]
    /// Refuse (409) a second live user with the same externalId. Off by default: RFC 7643 §3.1 leaves externalId's
    /// uniqueness to the client, and IdPs reuse one externalId across re-created users.
    public var uniqueExternalId: Bool

    /// Settings for a tenant created implicitly in development mode.
    public static func development(id: String) -> TenantSettings {
        TenantSettings(name: "dev-" + String(id.prefix(8)), deprovisionPolicy: .hard, schemaExtensions: [], validators: [])
    }

    /// Settings from validated parts.
    public init(name: String, deprovisionPolicy: DeprovisionPolicy, schemaExtensions: [JSONValue] = [],
                validators: [JSONValue] = [], uniqueExternalId: Bool = false) {
        self.name = name
        self.deprovisionPolicy = deprovisionPolicy
        self.schemaExtensions = schemaExtensions
        self.validators = validators
        self.uniqueExternalId = uniqueExternalId
    }

    /// Parses and validates a `PUT /internal/v1/tenants/{id}` body; the error detail names the offending field.
    public static func parse(_ body: JSONValue) throws(SCIMError) -> TenantSettings {
        guard case .object(let o) = body else { throw .invalidSyntax("the tenant settings must be a JSON object") }
        guard case .string(let name)? = o["name"], !name.isEmpty, name.utf8.count <= 200 else {
            throw .invalidValue("'name' must be a non-empty string of at most 200 bytes")
        }
        var policy = DeprovisionPolicy.hard
        if let p = o["deprovisionPolicy"], !p.isNull {
            guard let s = p.string, let parsed = DeprovisionPolicy(rawValue: s) else {
                throw .invalidValue("'deprovisionPolicy' must be 'hard', 'soft' or 'refuse'")
            }
            policy = parsed
        }
        let extensions = try list(o["schemaExtensions"], "schemaExtensions")
        let validators = try list(o["validators"], "validators")
        var uniqueExternalId = false
        if let u = o["uniqueExternalId"], !u.isNull {
            guard let b = u.bool else { throw .invalidValue("'uniqueExternalId' must be a boolean") }
            uniqueExternalId = b
        }
        let settings = TenantSettings(name: name, deprovisionPolicy: policy, schemaExtensions: extensions,
                                      validators: validators, uniqueExternalId: uniqueExternalId)
        _ = try settings.registry()  // every entry must build
        return settings
    }

    private static func list(_ value: JSONValue?, _ field: String) throws(SCIMError) -> [JSONValue] {
        switch value {
        case nil, .null?: return []
        case .array(let a)?:
            guard a.count <= 50 else { throw .invalidValue("'\(field)' has more than 50 entries") }
            return a
        default: throw .invalidValue("'\(field)' must be an array")
        }
    }

    /// The settings as JSON (the GET answer, without the id).
    public var json: JSONValue {
        .object([
            "name": .string(name), "deprovisionPolicy": .string(deprovisionPolicy.rawValue),
            "schemaExtensions": .array(schemaExtensions), "validators": .array(validators),
            "uniqueExternalId": .bool(uniqueExternalId),
        ])
    }

    /// The standard registry plus this tenant's extensions and validators.
    public func registry() throws(SCIMError) -> SchemaRegistry {
        var registry = SchemaRegistry.standard
        var seen: Set<String> = []
        for (i, entry) in schemaExtensions.enumerated() {
            let field = "schemaExtensions[\(i)]"
            guard case .object(let e) = entry else { throw .invalidValue("'\(field)' must be an object") }
            guard let rt = e["resourceType"]?.string, rt == "User" || rt == "Group" else {
                throw .invalidValue("'\(field).resourceType' must be 'User' or 'Group'")
            }
            var required = false
            if let r = e["required"], !r.isNull {
                guard let b = r.bool else { throw .invalidValue("'\(field).required' must be a boolean") }
                required = b
            }
            guard let schemaJSON = e["schema"] else { throw .invalidValue("'\(field).schema' is required") }
            let schema = try SchemaParser.schema(schemaJSON, field: field + ".schema")
            guard registry.schema(urn: schema.id) == nil, seen.insert(schema.id.lowercased()).inserted else {
                throw .invalidValue("'\(field).schema.id' names a schema that already exists")
            }
            registry = registry.adding(extension: schema, to: rt, required: required)
        }
        for (i, entry) in validators.enumerated() {
            let field = "validators[\(i)]"
            guard case .object(let v) = entry, let urn = v["schema"]?.string, let path = v["attribute"]?.string,
                  let ruleName = v["rule"]?.string else {
                throw .invalidValue("'\(field)' needs 'schema', 'attribute' and 'rule' strings")
            }
            guard let rule = ValidatorRule(rawValue: ruleName) else {
                throw .invalidValue("'\(field).rule' must be one of \(ValidatorRule.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let schema = registry.schema(urn: urn) else { throw .invalidValue("'\(field).schema' is not a known schema") }
            let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 2, let attribute = schema.attribute(named: parts[0]) else {
                throw .invalidValue("'\(field).attribute' is not an attribute of that schema")
            }
            if parts.count == 2 {
                guard attribute.subAttribute(named: parts[1]) != nil else {
                    throw .invalidValue("'\(field).attribute' names an unknown sub-attribute")
                }
            }
            guard (parts.count == 2 ? attribute.subAttribute(named: parts[1])!.type : attribute.type) == .string else {
                throw .invalidValue("'\(field).attribute' must be a string attribute")
            }
            let validator = rule.validator
            registry = registry.modifying(schema: schema.id, attribute: attribute.name) { def in
                if parts.count == 1 {
                    def.validator = validator
                } else if let si = def.subAttributes.firstIndex(where: { asciiCaseInsensitiveEquals($0.name, parts[1]) }) {
                    def.subAttributes[si].validator = validator
                }
            }
        }
        return registry
    }
}

/// The value rules a tenant can attach to string attributes.
public enum ValidatorRule: String, Sendable, CaseIterable {
    /// Two ASCII letters (`en`).
    case iso639_1 = "iso639-1"
    /// Two letters, optionally with a region (`en`, `en-US`, `en_US`).
    case iso639_1Region = "iso639-1-region"
    /// An ISO 3166-1 alpha-2 country code (`DE`), any case.
    case iso3166Alpha2 = "iso3166-1-alpha2"

    var validator: ValueValidator {
        switch self {
        case .iso639_1: return .iso639_1()
        case .iso639_1Region: return .iso639_1(allowRegion: true)
        case .iso3166Alpha2:
            return ValueValidator(name: "ISO 3166-1 alpha-2 country code") { value in
                guard let s = value.string, s.utf8.count == 2 else { return false }
                return CountryCodes.alpha2.contains(s.uppercased())
            }
        }
    }
}

/// RFC 7643 §7 attribute representations → `Schema` (strict: unknown types and bad names are refused).
enum SchemaParser {
    static func schema(_ json: JSONValue, field: String) throws(SCIMError) -> Schema {
        guard case .object(let o) = json else { throw .invalidValue("'\(field)' must be an object") }
        guard let id = o["id"]?.string, isSchemaURN(id) else {
            throw .invalidValue("'\(field).id' must be a URN (urn:…, letters, digits and :._-)")
        }
        let name = o["name"]?.string ?? id
        let description = o["description"]?.string ?? ""
        guard case .array(let attrs)? = o["attributes"], !attrs.isEmpty, attrs.count <= 200 else {
            throw .invalidValue("'\(field).attributes' must be an array of 1-200 attributes")
        }
        var out: [AttributeDefinition] = []
        var names: Set<String> = []
        for (i, a) in attrs.enumerated() {
            let def = try attribute(a, field: "\(field).attributes[\(i)]", nested: false)
            guard names.insert(def.name.lowercased()).inserted else {
                throw .invalidValue("'\(field).attributes[\(i)].name' is given twice")
            }
            out.append(def)
        }
        return Schema(id: id, name: name, description: description, attributes: out)
    }

    static func attribute(_ json: JSONValue, field: String, nested: Bool) throws(SCIMError) -> AttributeDefinition {
        guard case .object(let o) = json else { throw .invalidValue("'\(field)' must be an object") }
        guard let name = o["name"]?.string, isAttributeName(name) else {
            throw .invalidValue("'\(field).name' must be an attribute name (a letter, then letters, digits, - or _)")
        }
        func flag(_ key: String, _ fallback: Bool) throws(SCIMError) -> Bool {
            guard let v = o[key], !v.isNull else { return fallback }
            guard let b = v.bool else { throw .invalidValue("'\(field).\(key)' must be a boolean") }
            return b
        }
        func keyword<T: RawRepresentable>(_ key: String, _ fallback: T) throws(SCIMError) -> T where T.RawValue == String {
            guard let v = o[key], !v.isNull else { return fallback }
            guard let s = v.string, let t = T(rawValue: s) else { throw .invalidValue("'\(field).\(key)' has an unknown value") }
            return t
        }
        func strings(_ key: String) throws(SCIMError) -> [String] {
            guard let v = o[key], !v.isNull else { return [] }
            guard let a = v.array, a.allSatisfy({ $0.string != nil }) else {
                throw .invalidValue("'\(field).\(key)' must be an array of strings")
            }
            return a.compactMap(\.string)
        }
        let type: AttributeType = try keyword("type", .string)
        var subs: [AttributeDefinition] = []
        if type == .complex {
            guard !nested else { throw .invalidValue("'\(field)': sub-attributes cannot be complex (RFC 7643 §2.3.8)") }
            guard case .array(let list)? = o["subAttributes"], !list.isEmpty, list.count <= 50 else {
                throw .invalidValue("'\(field).subAttributes' must list 1-50 sub-attributes")
            }
            for (i, s) in list.enumerated() {
                subs.append(try attribute(s, field: "\(field).subAttributes[\(i)]", nested: true))
            }
        }
        var validator: ValueValidator? = nil
        if let v = o["validator"], !v.isNull {
            guard let s = v.string, let rule = ValidatorRule(rawValue: s) else {
                throw .invalidValue("'\(field).validator' must be one of \(ValidatorRule.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard type == .string else { throw .invalidValue("'\(field).validator' needs a string attribute") }
            validator = rule.validator
        }
        return AttributeDefinition(
            name, type, multiValued: try flag("multiValued", false), description: o["description"]?.string ?? "",
            required: try flag("required", false), caseExact: try flag("caseExact", false),
            mutability: try keyword("mutability", .readWrite), returned: try keyword("returned", .default),
            uniqueness: try keyword("uniqueness", .none), canonicalValues: try strings("canonicalValues"),
            referenceTypes: try strings("referenceTypes"), subAttributes: subs, validator: validator)
    }

    /// `urn:` followed by letters, digits and `:._-` (at most 200 bytes).
    static func isSchemaURN(_ s: String) -> Bool {
        guard s.utf8.count <= 200, s.lowercased().hasPrefix("urn:"), s.utf8.count > 4 else { return false }
        return s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: ":") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
    }

    /// RFC 7643 §2.1 `ATTRNAME = ALPHA *(nameChar)`, at most 64 bytes.
    static func isAttributeName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let first = u.first, u.count <= 64 else { return false }
        func alpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
        guard alpha(first) else { return false }
        return u.dropFirst().allSatisfy { alpha($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }
}

/// ISO 3166-1 alpha-2 codes (officially assigned).
enum CountryCodes {
    static let alpha2: Set<String> = Set("""
        AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
        CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO \
        FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE \
        JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO \
        MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW \
        PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM \
        TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
        """.split(separator: " ").map(String.init))
}

/// One tenant's resolved view: settings plus the schemas every request of that tenant works against.
/// Built once per settings version and cached (`TenantDirectory`).
public final class TenantContext: Sendable {
    /// The tenant id.
    public let id: String
    /// `tenants.settings_version` this context was built from.
    public let version: Int64
    /// The settings.
    public let settings: TenantSettings
    /// Standard schemas plus the tenant's extensions and validators.
    public let registry: SchemaRegistry
    /// The User resource type joined with its schemas.
    public let users: ResourceSchema
    /// The Group resource type joined with its schemas.
    public let groups: ResourceSchema
    /// The default projections (no `attributes`/`excludedAttributes`), built once: most requests use them and
    /// building a projection walks every attribute definition.
    let defaultUserProjection: Projection
    let defaultGroupProjection: Projection
    let userRenderPlan: RenderPlan
    let groupRenderPlan: RenderPlan

    init(id: String, version: Int64, settings: TenantSettings) throws(SCIMError) {
        self.id = id
        self.version = version
        self.settings = settings
        let registry = try settings.registry()
        self.registry = registry
        guard let users = registry.resourceSchema("User"), let groups = registry.resourceSchema("Group") else {
            throw SCIMError(status: 500, detail: "the schema registry lacks User or Group")
        }
        self.users = users
        self.groups = groups
        self.defaultUserProjection = Projection(schema: users)
        self.defaultGroupProjection = Projection(schema: groups)
        self.userRenderPlan = RenderPlan(.user, users)
        self.groupRenderPlan = RenderPlan(.group, groups)
    }

    func renderPlan(_ kind: ResourceKind) -> RenderPlan { kind == .user ? userRenderPlan : groupRenderPlan }
}
