public import HTTPCore
import Crypto
import Synchronization

/// The headers the gateway adds to every request it forwards to a region. All of them are covered by the
/// signature, so a region can trust the tenant id and base URL they carry.
public enum LinkHeader {
    public static let tenant = "X-SCIM-Tenant"
    /// The public SCIM base URL the IdP used (e.g. `https://eu2-api.example.com/scim/v2`), for `Location` and `meta.location`.
    public static let baseURL = "X-SCIM-Base-URL"
    public static let requestID = "X-Request-Id"
    public static let timestamp = "X-SCIM-Timestamp"
    public static let nonce = "X-SCIM-Nonce"
    public static let keyID = "X-SCIM-Key-Id"
    public static let signature = "X-SCIM-Signature"

    /// In signing order. Changing this list is a protocol change: bump `LinkSignature.version`.
    public static let signed = [tenant, baseURL, requestID, timestamp, nonce, keyID]
}
