import JSON
import SCIMCore

/// The value rules a tenant can attach to string attributes.
package enum ValidatorRule: String, Sendable, CaseIterable {
    /// Two ASCII letters (`en`).
    case iso639_1 = "iso639-1"
    /// Two letters, optionally with a region (`en`, `en-US`, `en_US`).
    case iso639_1Region = "iso639-1-region"
    /// An ISO 3166-1 alpha-2 country code (`DE`), any case.
    case iso3166Alpha2 = "iso3166-1-alpha2"

    var validator: ValueValidator {
        switch self {
        case .iso639_1: return .iso639_1()
        case .iso639_1Region: return .iso639_1(allowRegion: true)
        case .iso3166Alpha2:
            return ValueValidator(name: "ISO 3166-1 alpha-2 country code") { value in
                guard let s = value.string, s.utf8.count == 2 else { return false }
                return CountryCodes.alpha2.contains(s.uppercased())
            }
        }
    }
}
