import JSON

/// Every non-RFC shape real IdPs send that we accept, named in one place with its source
/// (citations refer to shared/idp/TRACES.md). Code that accepts a quirk calls into `IdPDialect`.
public enum IdPQuirk: String, Sendable, Hashable, CaseIterable {
    /// Entra default dialect: `"op":"Replace"` / `"Add"` / `"Remove"` [E1][E2]. Ops are matched case-insensitively.
    case capitalisedPatchOp
    /// Entra `"active":"False"`, `roles[].primary:"True"` [E2][E10]; OneLogin template `"active":"{$user.active}"` [O4].
    case booleanAsString
    /// Entra default dialect and JumpCloud: `remove path=members` with `value:[{"value":id}]` removes those members [E2][J3][J4].
    case memberRemovalByValueArray
    /// Entra compliant dialect: a no-path `replace` whose value object has dotted (`name.givenName`) and
    /// URN-qualified (`urn:…:User:employeeNumber`) keys [E2][E12].
    case dottedKeysInNoPathValue
    /// Okta group rename sends `{"op":"replace","value":{"id":G,"displayName":…}}`; readOnly keys (`id`, `meta`,
    /// `schemas`) inside a no-path value are ignored instead of failing with `mutability` [S1][S2].
    case readOnlyKeysInNoPathValue
    /// Okta sends a PatchOp without `schemas` [S10].
    case patchWithoutSchemas
    /// Entra validator: `manager` as a raw id string, `""` or `{"value":""}` (meaning remove) [E6].
    case complexValueAsString
    /// OneLogin sends `emails` as a single object instead of an array [O3].
    case singleValueForMultiValued
    /// Entra legacy example `externalId eq jyoung`: unquoted filter values [E1].
    case unquotedFilterValue
    /// Entra `Add`/`Replace` to `emails[type eq "work"].value` with no matching element creates
    /// `{"type":"work","value":…}`; several such ops build one element [E9].
    case valueFilterCreatesElement
    /// Entra `attributes=emails[type eq "work"]`: a value filter inside `attributes` is read as the attribute [E5].
    case valueFilterInAttributesParameter
    /// Entra reference code sends extra keys on operations (`"name":"addMember"`) [E5]; unknown op keys are ignored.
    case extraOperationKeys
}

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

    /// The clients known to send this shape (TRACES.md), so an operator can tell which dialect a tenant speaks.
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

/// Which quirks one request needed: a bit set, so reporting costs an OR per normalisation that fired and nothing
/// when none did. SCIMCore's pipelines return one with their result; the region counts them per tenant.
public struct QuirkSet: Sendable, Hashable, Sequence {
    var bits: UInt32 = 0

    /// The empty set.
    public init() {}

    /// A set of the given quirks.
    public init(_ quirks: [IdPQuirk]) {
        for q in quirks { insert(q) }
    }

    /// Whether no quirk fired.
    public var isEmpty: Bool { bits == 0 }

    /// Whether `quirk` fired.
    public func contains(_ quirk: IdPQuirk) -> Bool { bits & quirk.bit != 0 }

    /// Notes that `quirk` fired.
    public mutating func insert(_ quirk: IdPQuirk) { bits |= quirk.bit }

    /// Adds every quirk of `other`.
    public mutating func formUnion(_ other: QuirkSet) { bits |= other.bits }

    /// The quirks, in declaration order.
    public func makeIterator() -> IndexingIterator<[IdPQuirk]> {
        IdPQuirk.allCases.filter { contains($0) }.makeIterator()
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
