/// What to do when an object repeats a key.
///
/// RFC 8259 leaves duplicate names undefined, and for SCIM it is ambiguous which value an IdP meant
/// (`{"active":true,"active":false}`), so the default is to reject the document.
public enum DuplicateKeyPolicy: Sendable, Hashable {
    /// Fail with `JSONError.Kind.duplicateKey`.
    case reject
    /// Keep the last value, at the position of the first occurrence.
    case lastWins
}
