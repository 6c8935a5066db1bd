package import RegionSCIM

/// What the operator's app needs from the directory beyond the events and the read API (issue 18): the role rules
/// and the attribute mapping it configures (`DirectoryConfigStore`).
///
///     GET|PUT|DELETE /internal/v1/tenants/{id}/roles
///     GET|PUT|DELETE /internal/v1/tenants/{id}/attribute-mapping
///     POST           /internal/v1/tenants/{id}/attribute-mapping/preview
package final class DirectoryAPI: Sendable {
    package let configs: DirectoryConfigStore

    /// The API over `database`.
    package init(database: RegionDatabase) {
        configs = DirectoryConfigStore(database: database)
    }
}
