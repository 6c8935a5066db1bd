public import HTTPCore
import Synchronization

/// Why a region refused a request as not coming from the gateway. The reasons are fixed phrases.
public enum LinkRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case unsigned
    case unknownKey
    case badSignature
    case stale
    case replayed
    case malformed

    public var description: String {
        switch self {
        case .unsigned: "request is not signed by the gateway"
        case .unknownKey: "unknown signing key id"
        case .badSignature: "signature does not match"
        case .stale: "timestamp outside the accepted window"
        case .replayed: "request replayed"
        case .malformed: "malformed signature headers"
        }
    }
}
