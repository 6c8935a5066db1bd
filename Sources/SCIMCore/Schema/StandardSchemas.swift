// The RFC 7643 §8.7.1 core schemas (User, Group) and the §4.3 Enterprise User extension, as data.

/// The standard schemas and resource types.
public enum StandardSchemas {
    /// Core User schema URN.
    public static let userURN = "urn:ietf:params:scim:schemas:core:2.0:User"
    /// Core Group schema URN.
    public static let groupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
    /// Enterprise User extension URN.
    public static let enterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

    private static func str(_ name: String, _ description: String = "", caseExact: Bool = false,
                            canonical: [String] = []) -> AttributeDefinition {
        AttributeDefinition(name, .string, description: description, caseExact: caseExact, canonicalValues: canonical)
    }

    /// The usual `value`/`display`/`type`/`primary` sub-attributes of a multi-valued attribute.
    private static func multi(_ name: String, _ description: String, types: [String],
                              valueType: AttributeType = .string, referenceTypes: [String] = []) -> AttributeDefinition {
        AttributeDefinition(name, .complex, multiValued: true, description: description, subAttributes: [
            AttributeDefinition("value", valueType, description: "The value.", caseExact: valueType == .reference,
                                referenceTypes: referenceTypes),
            AttributeDefinition("display", description: "A human-readable name, primarily used for display purposes."),
            AttributeDefinition("type", description: "A label indicating the attribute's function.", canonicalValues: types),
            AttributeDefinition("primary", .boolean, description: "Indicates the 'primary' or preferred value."),
        ])
    }

    /// RFC 7643 §4.1 User.
    public static let user = Schema(id: userURN, name: "User", description: "User Account", attributes: [
        AttributeDefinition("userName", description: "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.",
                            required: true, uniqueness: .server),
        AttributeDefinition("name", .complex, description: "The components of the user's real name.", subAttributes: [
            str("formatted", "The full name, including all middle names, titles, and suffixes as appropriate."),
            str("familyName", "The family name of the User."),
            str("givenName", "The given name of the User."),
            str("middleName", "The middle name(s) of the User."),
            str("honorificPrefix", "The honorific prefix(es) of the User."),
            str("honorificSuffix", "The honorific suffix(es) of the User."),
        ]),
        str("displayName", "The name of the User, suitable for display to end-users."),
        str("nickName", "The casual way to address the user in real life."),
        AttributeDefinition("profileUrl", .reference, description: "A fully qualified URL pointing to a page representing the User's online profile.",
                            referenceTypes: ["external"]),
        str("title", "The user's title, such as \"Vice President\"."),
        str("userType", "Used to identify the relationship between the organization and the user."),
        str("preferredLanguage", "Indicates the User's preferred written or spoken language."),
        str("locale", "Used to indicate the User's default location for purposes of localizing items."),
        str("timezone", "The User's time zone in the 'Olson' time zone database format."),
        AttributeDefinition("active", .boolean, description: "A Boolean value indicating the User's administrative status."),
        AttributeDefinition("password", description: "The User's cleartext password.", mutability: .writeOnly, returned: .never),
        multi("emails", "Email addresses for the user.", types: ["work", "home", "other"]),
        multi("phoneNumbers", "Phone numbers for the User.", types: ["work", "home", "mobile", "fax", "pager", "other"]),
        multi("ims", "Instant messaging addresses for the User.", types: ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
        multi("photos", "URLs of photos of the User.", types: ["photo", "thumbnail"], valueType: .reference, referenceTypes: ["external"]),
        AttributeDefinition("addresses", .complex, multiValued: true, description: "A physical mailing address for this User.", subAttributes: [
            str("formatted", "The full mailing address, formatted for display or use with a mailing label."),
            str("streetAddress", "The full street address component."),
            str("locality", "The city or locality component."),
            str("region", "The state or region component."),
            str("postalCode", "The zip code or postal code component."),
            str("country", "The country name component."),
            str("type", "A label indicating the attribute's function.", canonical: ["work", "home", "other"]),
            AttributeDefinition("primary", .boolean, description: "Indicates the 'primary' or preferred value."),
        ]),
        AttributeDefinition("groups", .complex, multiValued: true, description: "A list of groups to which the user belongs.",
                            mutability: .readOnly, subAttributes: [
            AttributeDefinition("value", description: "The identifier of the User's group.", mutability: .readOnly),
            AttributeDefinition("$ref", .reference, description: "The URI of the corresponding 'Group' resource.",
                                caseExact: true, mutability: .readOnly, referenceTypes: ["User", "Group"]),
            AttributeDefinition("display", description: "A human-readable name.", mutability: .readOnly),
            AttributeDefinition("type", description: "Direct or indirect membership.", mutability: .readOnly,
                                canonicalValues: ["direct", "indirect"]),
        ]),
        multi("entitlements", "A list of entitlements for the User.", types: []),
        multi("roles", "A list of roles for the User.", types: []),
        multi("x509Certificates", "A list of certificates issued to the User.", types: [], valueType: .binary),
    ])

    /// RFC 7643 §4.2 Group. `displayName` is required and unique per tenant (Entra expects 409 on duplicates).
    public static let group = Schema(id: groupURN, name: "Group", description: "Group", attributes: [
        AttributeDefinition("displayName", description: "A human-readable name for the Group.", required: true, uniqueness: .server),
        AttributeDefinition("members", .complex, multiValued: true, description: "A list of members of the Group.", subAttributes: [
            AttributeDefinition("value", description: "Identifier of the member of this Group.", caseExact: true, mutability: .immutable),
            AttributeDefinition("$ref", .reference, description: "The URI corresponding to a SCIM resource that is a member of this Group.",
                                caseExact: true, mutability: .immutable, referenceTypes: ["User", "Group"]),
            AttributeDefinition("type", description: "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                                mutability: .immutable, canonicalValues: ["User", "Group"]),
            AttributeDefinition("display", description: "A human-readable name for the member."),
        ]),
    ])

    /// RFC 7643 §4.3 Enterprise User extension.
    public static let enterpriseUser = Schema(id: enterpriseUserURN, name: "EnterpriseUser", description: "Enterprise User", attributes: [
        str("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
        str("costCenter", "Identifies the name of a cost center."),
        str("organization", "Identifies the name of an organization."),
        str("division", "Identifies the name of a division."),
        str("department", "Identifies the name of a department."),
        AttributeDefinition("manager", .complex, description: "The User's manager.", subAttributes: [
            AttributeDefinition("value", description: "The id of the SCIM resource representing the User's manager."),
            AttributeDefinition("$ref", .reference, description: "The URI of the SCIM resource representing the User's manager.",
                                caseExact: true, referenceTypes: ["User"]),
            AttributeDefinition("displayName", description: "The displayName of the User's manager.", mutability: .readOnly),
        ]),
    ])

    /// The User resource type with the optional Enterprise extension.
    public static let userResourceType = ResourceType(
        id: "User", name: "User", endpoint: "/Users", description: "User Account", schema: userURN,
        schemaExtensions: [SchemaExtension(schema: enterpriseUserURN, required: false)])

    /// The Group resource type; `members` are stored outside the document.
    public static let groupResourceType = ResourceType(
        id: "Group", name: "Group", endpoint: "/Groups", description: "Group", schema: groupURN,
        externalAttributes: ["members"])
}
