import JSON
import Postgres
import SCIMCore

/// Discovery (RFC 7644 §4): the service provider configuration, resource types and schemas a tenant sees (its own
/// schema extensions included).
extension SCIMService {

    /// GET /ServiceProviderConfig.
    package func serviceProviderConfig(scope: RequestScope) throws -> SCIMOutcome {
        try database.read(tenant: scope.tenant, { _ in [] }, decode: { _, _ in
            .document(status: 200, configuration.json(baseURL: scope.baseURL))
        })
    }

    /// GET /ResourceTypes and /ResourceTypes/{id}.
    package func resourceTypes(id: String?, scope: RequestScope) throws -> SCIMOutcome {
        try database.read(tenant: scope.tenant, { _ in [] }, decode: { context, _ in
            guard let id else { return .list(context.registry.resourceTypesListResponse(baseURL: scope.baseURL)) }
            return .document(status: 200, try context.registry.resourceTypeRepresentation(id: id, baseURL: scope.baseURL))
        })
    }

    /// GET /Schemas and /Schemas/{id}.
    package func schemas(id: String?, scope: RequestScope) throws -> SCIMOutcome {
        try database.read(tenant: scope.tenant, { _ in [] }, decode: { context, _ in
            guard let id else { return .list(context.registry.schemasListResponse(baseURL: scope.baseURL)) }
            return .document(status: 200, try context.registry.schemaRepresentation(id: id, baseURL: scope.baseURL))
        })
    }
}
