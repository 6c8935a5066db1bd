import JSON

/// Every non-RFC shape real IdPs send that we accept, named in one place with its source
/// (citations refer to docs/idp-behaviour.md). Code that accepts a quirk calls into `IdPDialect`.
public enum IdPQuirk: String, Sendable, Hashable, CaseIterable {
    /// Entra default dialect: `"op":"Replace"` / `"Add"` / `"Remove"` [docs/idp-behaviour.md#entra-overview]. Ops are matched case-insensitively.
    case capitalisedPatchOp
    /// Entra `"active":"False"`, `roles[].primary:"True"` [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#entra-create-user]; OneLogin template `"active":"{$user.active}"` [docs/idp-behaviour.md#onelogin-template-bodies].
    case booleanAsString
    /// Entra default dialect and JumpCloud: `remove path=members` with `value:[{"value":id}]` removes those members [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#jumpcloud-patch-shapes].
    case memberRemovalByValueArray
    /// Entra compliant dialect: a no-path `replace` whose value object has dotted (`name.givenName`) and
    /// URN-qualified (`urn:…:User:employeeNumber`) keys [docs/idp-behaviour.md#entra-overview][docs/idp-behaviour.md#entra-compliant-dialect-patch].
    case dottedKeysInNoPathValue
    /// Okta group rename sends `{"op":"replace","value":{"id":G,"displayName":…}}`; readOnly keys (`id`, `meta`,
    /// `schemas`) inside a no-path value are ignored instead of failing with `mutability` [docs/idp-behaviour.md#okta-overview].
    case readOnlyKeysInNoPathValue
    /// Okta sends a PatchOp without `schemas` [docs/idp-behaviour.md#okta-groups-and-membership].
    case patchWithoutSchemas
    /// Entra validator: `manager` as a raw id string, `""` or `{"value":""}` (meaning remove) [docs/idp-behaviour.md#microsoft-scim-validator].
    case complexValueAsString
    /// OneLogin sends `emails` as a single object instead of an array [docs/idp-behaviour.md#onelogin-template-bodies].
    case singleValueForMultiValued
    /// Entra legacy example `externalId eq jyoung`: unquoted filter values [docs/idp-behaviour.md#entra-overview].
    case unquotedFilterValue
    /// Entra `Add`/`Replace` to `emails[type eq "work"].value` with no matching element creates
    /// `{"type":"work","value":…}`; several such ops build one element [docs/idp-behaviour.md#entra-default-dialect-patch].
    case valueFilterCreatesElement
    /// Entra `attributes=emails[type eq "work"]`: a value filter inside `attributes` is read as the attribute [docs/idp-behaviour.md#microsoft-reference-tests].
    case valueFilterInAttributesParameter
    /// Entra reference code sends extra keys on operations (`"name":"addMember"`) [docs/idp-behaviour.md#microsoft-reference-tests]; unknown op keys are ignored.
    case extraOperationKeys
}
