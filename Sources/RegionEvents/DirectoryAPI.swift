package import RegionSCIM

/// What the operator's app needs from the directory beyond the events and the read API (issue 18): the role rules
/// and the attribute mapping it configures (`DirectoryConfigStore`), and reconciliation snapshots (`Snapshots`).
///
///     GET|PUT|DELETE /internal/v1/tenants/{id}/roles
///     GET|PUT|DELETE /internal/v1/tenants/{id}/attribute-mapping
///     POST           /internal/v1/tenants/{id}/attribute-mapping/preview
///     POST           /internal/v1/tenants/{id}/snapshots
///     GET            /internal/v1/tenants/{id}/snapshots/{snapshot}?after=<cursor>&limit=1..1000
///     DELETE         /internal/v1/tenants/{id}/snapshots/{snapshot}
package final class DirectoryAPI: Sendable {
    package let configs: DirectoryConfigStore
    package let snapshots: Snapshots

    /// The API over `database`, with `snapshots` (default limits unless given).
    package init(database: RegionDatabase, snapshots: Snapshots? = nil) {
        configs = DirectoryConfigStore(database: database)
        self.snapshots = snapshots ?? Snapshots(database: database)
    }
}
