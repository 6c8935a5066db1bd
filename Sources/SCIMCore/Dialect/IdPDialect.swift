import JSON

extension IdPQuirk {
    /// The quirk's bit in a `QuirkSet` (declaration order; stable because counts are stored by name, not by bit).
    var bit: UInt32 {
        switch self {
        case .capitalisedPatchOp: 1 << 0
        case .booleanAsString: 1 << 1
        case .memberRemovalByValueArray: 1 << 2
        case .dottedKeysInNoPathValue: 1 << 3
        case .readOnlyKeysInNoPathValue: 1 << 4
        case .patchWithoutSchemas: 1 << 5
        case .complexValueAsString: 1 << 6
        case .singleValueForMultiValued: 1 << 7
        case .unquotedFilterValue: 1 << 8
        case .valueFilterCreatesElement: 1 << 9
        case .valueFilterInAttributesParameter: 1 << 10
        case .extraOperationKeys: 1 << 11
        }
    }

    /// The clients known to send this shape (docs/idp-behaviour.md), so an operator can tell which dialect a tenant speaks.
    public var knownSenders: [String] {
        switch self {
        case .capitalisedPatchOp: ["Entra ID (default dialect)"]
        case .booleanAsString: ["Entra ID (default dialect)", "Microsoft SCIM Validator", "OneLogin (templates)"]
        case .memberRemovalByValueArray: ["Entra ID (default dialect)", "JumpCloud"]
        case .dottedKeysInNoPathValue: ["Entra ID (aadOptscim062020 / SCIM Validator)"]
        case .readOnlyKeysInNoPathValue: ["Okta (OIN group push)"]
        case .patchWithoutSchemas: ["Okta"]
        case .complexValueAsString: ["Microsoft SCIM Validator"]
        case .singleValueForMultiValued: ["OneLogin (templates)"]
        case .unquotedFilterValue: ["Entra ID (legacy examples)"]
        case .valueFilterCreatesElement: ["Entra ID"]
        case .valueFilterInAttributesParameter: ["Entra ID (reference tests)"]
        case .extraOperationKeys: ["Entra ID (reference tests)"]
        }
    }
}

/// The IdP dialect normaliser.
public enum IdPDialect {
    /// `"True"`/`"False"` in any case → Bool ([`IdPQuirk.booleanAsString`]).
    public static func booleanFromString(_ s: String) -> Bool? {
        if asciiCaseInsensitiveEquals(s, "true") { return true }
        if asciiCaseInsensitiveEquals(s, "false") { return false }
        return nil
    }

    /// PATCH op name in any case ([`IdPQuirk.capitalisedPatchOp`]).
    public static func patchOp(_ s: String) -> PatchOp? {
        if asciiCaseInsensitiveEquals(s, "add") { return .add }
        if asciiCaseInsensitiveEquals(s, "replace") { return .replace }
        if asciiCaseInsensitiveEquals(s, "remove") { return .remove }
        return nil
    }

    /// A string where a complex attribute with a `value` sub-attribute is expected becomes `{"value": s}`;
    /// an empty string means "no value" ([`IdPQuirk.complexValueAsString`]). Returns nil when not applicable.
    static func complexFromString(_ v: JSONValue, _ def: AttributeDefinition) -> JSONValue?? {
        guard def.type == .complex, case .string(let s) = v, let valueSub = def.subAttribute(named: "value") else { return nil }
        if s.isEmpty { return .some(nil) }
        return .some(.object([valueSub.name: .string(s)]))
    }

    /// A complex value whose only content is an empty `value` (`{"value":""}`) means "remove" ([`IdPQuirk.complexValueAsString`]).
    static func isEmptyValueObject(_ o: JSONObject) -> Bool {
        guard o.count >= 1, let v = o[caseInsensitive: "value"] else { return false }
        guard v == .string("") || v.isNull else { return false }
        return o.allSatisfy { $0.value.isNull || $0.value == .string("") }
    }

    /// Keys dropped silently from a no-path PATCH value ([`IdPQuirk.readOnlyKeysInNoPathValue`]).
    static func isIgnoredNoPathKey(_ key: String, _ def: AttributeDefinition?) -> Bool {
        if asciiCaseInsensitiveEquals(key, "schemas") { return true }
        if let d = def, d.mutability == .readOnly { return true }
        return false
    }
}
