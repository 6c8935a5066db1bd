/// The common attributes every resource has (RFC 7643 §3.1).
public enum CommonAttributes {
    /// `id`: server-assigned, readOnly, returned always, caseExact.
    public static let id = AttributeDefinition("id", caseExact: true, mutability: .readOnly, returned: .always, uniqueness: .server)
    /// `externalId`: client-assigned, caseExact.
    public static let externalId = AttributeDefinition("externalId", caseExact: true)
    /// `meta`: readOnly complex.
    public static let meta = AttributeDefinition("meta", .complex, mutability: .readOnly, subAttributes: [
        AttributeDefinition("resourceType", caseExact: true, mutability: .readOnly),
        AttributeDefinition("created", .dateTime, mutability: .readOnly),
        AttributeDefinition("lastModified", .dateTime, mutability: .readOnly),
        AttributeDefinition("location", .reference, caseExact: true, mutability: .readOnly, referenceTypes: ["uri"]),
        AttributeDefinition("version", caseExact: true, mutability: .readOnly),
    ])
    /// `schemas`: filterable (`schemas eq "urn:…"`, RFC 7644 §3.4.2.2), maintained by the server.
    public static let schemas = AttributeDefinition("schemas", .reference, multiValued: true, caseExact: true,
                                                    mutability: .readOnly, returned: .always, referenceTypes: ["uri"])
    /// All common attributes.
    public static let all: [AttributeDefinition] = [schemas, id, externalId, meta]
}
