public import JSON

/// Type checking and normalisation of attribute values, shared by create/replace and PATCH.
enum ValueNormaliser {
    /// Normalises a value for an attribute; nil means unassigned. The quirks it needed are added to `quirks`.
    static func normalise(_ v: JSONValue, _ def: AttributeDefinition, path: String, quirks: inout QuirkSet)
        throws(SCIMError) -> JSONValue?
    {
        guard def.multiValued else { return try normaliseSingle(v, def, path: path, quirks: &quirks) }
        let elements: [JSONValue]
        switch v {
        case .null: return nil
        case .array(let a): elements = a
        default:
            elements = [v]  // IdPQuirk.singleValueForMultiValued (OneLogin `emails` object [docs/idp-behaviour.md#onelogin-template-bodies])
            quirks.insert(.singleValueForMultiValued)
        }
        var out: [JSONValue] = []
        out.reserveCapacity(elements.count)
        for e in elements {
            if case .array = e { throw .invalidValue("attribute '\(path)' must not contain nested arrays") }
            if let n = try normaliseSingle(e, def, path: path, quirks: &quirks) { out.append(n) }
        }
        if out.isEmpty { return nil }
        keepFirstPrimary(&out)
        return .array(out)
    }

    /// RFC 7643 §2.4: at most one `primary: true`; the first one wins.
    static func keepFirstPrimary(_ values: inout [JSONValue]) {
        var seen = false
        for i in values.indices {
            guard case .object(var o) = values[i], let pi = o.index(forKey: "primary"), o[pi].value == .bool(true) else { continue }
            if seen {
                o.setValue(.bool(false), at: pi)
                values[i] = .object(o)
            }
            seen = true
        }
    }

    static func normaliseSingle(_ v: JSONValue, _ def: AttributeDefinition, path: String, quirks: inout QuirkSet)
        throws(SCIMError) -> JSONValue?
    {
        if case .null = v { return nil }
        let result: JSONValue
        switch def.type {
        case .complex:
            switch v {
            case .object(let o):
                if IdPDialect.isEmptyValueObject(o) {  // IdPQuirk.complexValueAsString: {"value":""}
                    quirks.insert(.complexValueAsString)
                    return nil
                }
                var out = JSONObject()
                out.reserveCapacity(o.count)
                for (k, sv) in o {
                    guard let sub = def.subAttribute(named: k) else { continue }
                    if sub.mutability == .readOnly { continue }
                    guard out.index(forKey: sub.name) == nil else {
                        throw .invalidSyntax("sub-attribute '\(path).\(sub.name)' is given more than once")
                    }
                    if let n = try normalise(sv, sub, path: path + "." + sub.name, quirks: &quirks) {
                        out.appendUnchecked(key: sub.name, value: n)
                    }
                }
                // Checked again after dropping readOnly/unknown keys: {"value":"","displayName":"x"} is still empty.
                if out.isEmpty { return nil }
                if IdPDialect.isEmptyValueObject(out) {
                    quirks.insert(.complexValueAsString)
                    return nil
                }
                result = .object(out)
            case .string:
                // IdPQuirk.complexValueAsString: Entra sends `manager` as a bare id or "" [docs/idp-behaviour.md#microsoft-scim-validator].
                guard let converted = IdPDialect.complexFromString(v, def) else {
                    throw .invalidValue("attribute '\(path)' must be a complex value (JSON object)")
                }
                quirks.insert(.complexValueAsString)
                guard let c = converted else { return nil }
                return try normaliseSingle(c, def, path: path, quirks: &quirks)
            default:
                throw .invalidValue("attribute '\(path)' must be a complex value (JSON object)")
            }
        case .string, .reference, .binary:
            guard case .string = v else { throw .invalidValue("attribute '\(path)' must be a string") }
            result = v
        case .boolean:
            switch v {
            case .bool: result = v
            case .string(let s):
                // IdPQuirk.booleanAsString: Entra "True"/"False" [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#entra-create-user], OneLogin templates [docs/idp-behaviour.md#onelogin-template-bodies].
                guard let b = IdPDialect.booleanFromString(s) else { throw .invalidValue("attribute '\(path)' must be a boolean") }
                quirks.insert(.booleanAsString)
                result = .bool(b)
            default: throw .invalidValue("attribute '\(path)' must be a boolean")
            }
        case .integer:
            guard case .number(let n) = v, n.isIntegerLiteral, n.int64 != nil else {
                throw .invalidValue("attribute '\(path)' must be an integer")
            }
            result = v
        case .decimal:
            guard case .number = v else { throw .invalidValue("attribute '\(path)' must be a number") }
            result = v
        case .dateTime:
            guard case .string(let s) = v, SCIMDateTime(parsing: s) != nil else {
                throw .invalidValue("attribute '\(path)' must be an xsd:dateTime string")
            }
            result = v
        }
        if let validator = def.validator, !validator.accepts(result) {
            throw .invalidValue("attribute '\(path)' must be a valid \(validator.name)")
        }
        return result
    }
}
