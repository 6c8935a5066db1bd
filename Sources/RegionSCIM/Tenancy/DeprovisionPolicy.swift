import JSON
import SCIMCore

/// What DELETE on a user does for a tenant.
package enum DeprovisionPolicy: String, Sendable, Hashable, CaseIterable {
    /// The row is deleted (GET answers 404 afterwards).
    case hard
    /// A tombstone kept for the operator: the id answers 404 forever, its group memberships are removed in the same
    /// transaction, and its userName and externalId are free again. A later POST with them creates a new user with
    /// a new id; nothing ever revives a tombstone.
    case soft
    /// DELETE is refused with 405 (Profit.co-style products that never delete users; deactivate instead).
    case refuse
}
