import HTTPCore
import JSON
import Postgres
package import SCIMCore
import Telemetry

/// Region behaviour that is not SCIM-standard but a choice, in one place.
package struct RegionSettings: Sendable {
    /// What `/ServiceProviderConfig` advertises and what is enforced (page sizes, bulk limits, cursor timeout).
    package var serviceProvider: ServiceProviderConfiguration
    /// A group PUT/PATCH answer includes members up to this many; a larger group answers 204 (RFC 7644 §3.5.2 allows
    /// it), so adding one member to a 100k-member group never serialises 100k members.
    package var groupResponseMemberLimit: Int
    /// A group write whose members' roles change recomputes them in its own transaction up to this many users;
    /// beyond, the tenant's recompute job does it in the background (`DirectoryRecompute`), so a rename of a
    /// 100k-member group answers in milliseconds.
    package var rolesInlineLimit: Int
    /// The most concurrent PATCHes of one group that share a transaction (`GroupWriteCombiner`); 1 turns it off.
    package var groupWriteBatchLimit: Int
    /// How long a PATCH of a group may wait behind others of it before a 503 (as long as a wait for a connection).
    package var groupWriteQueueTimeout: Duration = .seconds(5)

    /// Settings with our defaults.
    package init(serviceProvider: ServiceProviderConfiguration = RegionSettings.defaultServiceProvider,
                groupResponseMemberLimit: Int = 10_000, rolesInlineLimit: Int = 1000, groupWriteBatchLimit: Int = 64) {
        self.groupWriteBatchLimit = groupWriteBatchLimit
        self.serviceProvider = serviceProvider
        self.groupResponseMemberLimit = groupResponseMemberLimit
        self.rolesInlineLimit = rolesInlineLimit
    }

    /// Our defaults: PATCH, Bulk (1000 operations, 1 MiB), filters, sorting, ETags, index and cursor paging.
    package static let defaultServiceProvider = ServiceProviderConfiguration(
        patchSupported: true, bulkSupported: true, bulkMaxOperations: 1000, bulkMaxPayloadSize: 1 << 20,
        filterSupported: true, filterMaxResults: 1000, changePasswordSupported: false, sortSupported: true,
        etagSupported: true, cursorPagination: true, indexPagination: true, defaultPaginationMethod: "index",
        defaultPageSize: 100, maxPageSize: 1000, cursorTimeout: 3600)
}
