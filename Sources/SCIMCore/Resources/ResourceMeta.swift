public import JSON

/// Server-assigned metadata stamped on a stored resource.
public struct ResourceMeta: Sendable, Hashable {
    /// "User" or "Group".
    public var resourceType: String
    /// Creation time (xsd:dateTime).
    public var created: String
    /// Last modification time (xsd:dateTime).
    public var lastModified: String
    /// The resource URL.
    public var location: String
    /// The resource version; rendered in `meta.version` as the weak ETag `W/"<version>"`.
    public var version: String

    /// Creates metadata.
    public init(resourceType: String, created: String, lastModified: String, location: String, version: String) {
        self.resourceType = resourceType
        self.created = created
        self.lastModified = lastModified
        self.location = location
        self.version = version
    }

    /// The `meta` complex value.
    public var json: JSONValue {
        .object([
            "resourceType": .string(resourceType), "created": .string(created), "lastModified": .string(lastModified),
            "location": .string(location), "version": .string(ETag.weak(version: version)),
        ])
    }
}
