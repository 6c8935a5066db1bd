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
