import JSON
import SCIMCore

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
