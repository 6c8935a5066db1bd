public import JSON

/// An authentication scheme advertised in the ServiceProviderConfig.
public struct AuthenticationScheme: Sendable, Hashable {
    /// Scheme type ("oauthbearertoken").
    public var type: String
    /// Display name.
    public var name: String
    /// Description.
    public var description: String
    /// Specification URL.
    public var specUri: String?
    /// Documentation URL.
    public var documentationUri: String?
    /// Whether this is the primary scheme.
    public var primary: Bool

    /// Creates a scheme.
    public init(type: String, name: String, description: String, specUri: String? = nil, documentationUri: String? = nil, primary: Bool = false) {
        self.type = type
        self.name = name
        self.description = description
        self.specUri = specUri
        self.documentationUri = documentationUri
        self.primary = primary
    }

    /// OAuth 2.0 bearer token (RFC 6750).
    public static let oauthBearerToken = AuthenticationScheme(
        type: "oauthbearertoken", name: "OAuth Bearer Token",
        description: "Authentication scheme using the OAuth Bearer Token Standard",
        specUri: "https://www.rfc-editor.org/info/rfc6750", primary: true)
}
