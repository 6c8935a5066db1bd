/// Which identity provider sent a request, as far as one request tells: the request log's `idp` field.
///
/// First the `User-Agent`, where a client names itself in a documented way (Okta: `Okta SCIM Client 1.0.0`,
/// docs/idp-behaviour.md#okta-headers, and `OKTA SCIM Integration` on the AIW connection test,
/// docs/idp-behaviour.md#okta-connection-test; Google: `Google-Auto-Provisioning`,
/// docs/idp-behaviour.md#google-headers-and-media-types). Then the dialect: a quirk that only one family of clients is
/// known to send (`IdPQuirk.knownSenders`). Quirks several families send (`booleanAsString`,
/// `memberRemovalByValueArray`) tell nothing on their own. nil when neither tells: most plain RFC requests.
public enum IdPFingerprint {
    /// How the answer was found.
    public enum Basis: String, Sendable, Hashable {
        case userAgent = "user-agent"
        case dialect
    }

    /// The IdP's name (`Okta`, `Google`, `Entra ID`, `OneLogin`) and how it was told, or nil.
    public static func identify(userAgent: String?, quirks: QuirkSet) -> (name: String, basis: Basis)? {
        if let userAgent, let name = name(userAgent: userAgent) { return (name, .userAgent) }
        for quirk in quirks {
            if let name = family(of: quirk) { return (name, .dialect) }
        }
        return nil
    }

    /// The IdP a `User-Agent` names, by the documented product tokens (ASCII, case-insensitive).
    static func name(userAgent: String) -> String? {
        if contains(userAgent, "okta") { return "Okta" }
        if contains(userAgent, "google-auto-provisioning") { return "Google" }
        return nil
    }

    /// ASCII case-insensitive substring test on bytes (`lowercasedWord` in lower case).
    static func contains(_ text: String, _ lowercasedWord: String) -> Bool {
        let word = Array(lowercasedWord.utf8), bytes = Array(text.utf8)
        guard bytes.count >= word.count else { return false }
        outer: for i in 0...(bytes.count - word.count) {
            for k in 0..<word.count where (bytes[i + k] >= 0x41 && bytes[i + k] <= 0x5A ? bytes[i + k] | 0x20 : bytes[i + k]) != word[k] {
                continue outer
            }
            return true
        }
        return false
    }

    /// The one family of clients known to send `quirk` (docs/idp-behaviour.md), or nil when several do.
    static func family(of quirk: IdPQuirk) -> String? {
        switch quirk {
        // Entra ID's default and compliant dialects, and Microsoft's validator and reference tests for it.
        case .capitalisedPatchOp, .dottedKeysInNoPathValue, .complexValueAsString, .unquotedFilterValue,
             .valueFilterCreatesElement, .valueFilterInAttributesParameter, .extraOperationKeys:
            return "Entra ID"
        case .readOnlyKeysInNoPathValue, .patchWithoutSchemas:
            return "Okta"
        case .singleValueForMultiValued:
            return "OneLogin"
        case .booleanAsString, .memberRemovalByValueArray:
            return nil
        }
    }
}
