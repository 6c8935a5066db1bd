public import HTTPCore
import Crypto
import Synchronization

/// What a verified request tells the region.
public struct LinkContext: Sendable, Equatable {
    public var tenant: String
    public var baseURL: String
    public var requestID: String
    public var keyID: String
}
