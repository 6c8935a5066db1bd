package import JSON
import SCIMCore

/// One mapping rule: an IdP group, picked by id, externalId or displayName (the whole value or a prefix), gives a
/// role.
///
/// Comparison follows the attributes' SCIM definitions: `id` and `externalId` are case-exact (RFC 7643 §3.1),
/// `displayName` is not (this region keeps group names unique case-insensitively, so a rule cannot tell two
/// groups apart by case either).
package struct RoleRule: Sendable, Hashable {
    /// The group attribute a rule compares.
    package enum Attribute: String, Sendable, Hashable, CaseIterable {
        case id, externalId, displayName
    }

    /// How the value is compared.
    package enum Match: String, Sendable, Hashable, CaseIterable {
        /// The whole value.
        case exact
        /// The attribute starts with the value.
        case prefix
    }

    package var attribute: Attribute
    package var match: Match
    /// The value as the operator wrote it (a canonical UUID for `id`).
    package var value: String
    /// The role key it gives.
    package var role: String

    /// A rule.
    package init(attribute: Attribute, match: Match, value: String, role: String) {
        self.attribute = attribute
        self.match = match
        self.value = value
        self.role = role
    }

    /// The value as compared: folded for displayName.
    var key: String { attribute == .displayName ? CaseFold.fold(value) : value }

    /// The rule as stored and returned.
    package var json: JSONValue {
        ["group": .object(JSONObject([(attribute.rawValue, .string(value))])), "match": .string(match.rawValue), "role": .string(role)]
    }
}
