import Crypto
package import SCIMCore

/// An RFC 9865 cursor: where the next page starts (keyset position), bound to the tenant and the query that made it.
///
/// Wire form: `base64url(payload) "." base64url(HMAC-SHA-256(secret, tenant "\n" payload)[0..<16])`, which uses only
/// RFC 3986 unreserved characters. The MAC covers the tenant id, so a cursor taken from one tenant is refused for
/// any other (`invalidCursor`) even before row-level security would hide the rows; editing any byte is refused too.
/// The payload is not secret: it holds the last row's id and sort key, which the client has already seen.
package struct ListCursor: Sendable, Equatable {
    /// `User` or `Group`.
    package var resourceType: String
    /// Fingerprint of filter, sortBy and sortOrder: a cursor only continues the query that produced it.
    package var queryFingerprint: String
    /// Seconds since the epoch when the cursor was issued (cursors expire after `cursorTimeout`).
    package var issuedAt: Int64
    /// The id of the last resource on the previous page.
    package var lastID: String
    /// The sort key of that resource as SQL text, nil when it had no value (or no sortBy was given).
    package var lastKey: String?

    /// A cursor position.
    package init(resourceType: String, queryFingerprint: String, issuedAt: Int64, lastID: String, lastKey: String?) {
        self.resourceType = resourceType
        self.queryFingerprint = queryFingerprint
        self.issuedAt = issuedAt
        self.lastID = lastID
        self.lastKey = lastKey
    }

    static let version = "c1"

    /// The signed token.
    package func encode(secret: [UInt8], tenant: String) -> String {
        var fields = [Self.version, resourceType, queryFingerprint, String(issuedAt), lastID]
        // The key goes last and may contain anything, including the separator.
        if let lastKey { fields.append("k" + lastKey) } else { fields.append("n") }
        let payload = Array(fields.joined(separator: "\n").utf8)
        return Base64.encode(payload, urlSafe: true) + "." + Base64.encode(Self.mac(secret, tenant, payload), urlSafe: true)
    }

    /// Why a cursor was refused.
    package enum Problem: Error, Sendable, Equatable {
        case invalid
        case expired
    }

    /// Verifies and decodes a token; `invalid` for anything not issued by us for this tenant, `expired` when older
    /// than `timeoutSeconds`.
    package static func decode(_ token: String, secret: [UInt8], tenant: String, nowSeconds: Int64,
                              timeoutSeconds: Int?) -> Result<ListCursor, Problem> {
        guard token.utf8.count <= 4096, let dot = token.lastIndex(of: "."),
              let payload = Base64.decode(String(token[..<dot])),
              let tag = Base64.decode(String(token[token.index(after: dot)...])), tag.count == 16,
              constantTimeEquals(tag, mac(secret, tenant, payload)) else { return .failure(.invalid) }
        let text = String(decoding: payload, as: UTF8.self)
        let fields = text.split(separator: "\n", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 6, fields[0] == version, let issued = Int64(fields[3]),
              UUIDText.canonical(fields[4]) != nil, let keyField = fields[5].first else { return .failure(.invalid) }
        let key: String?
        switch keyField {
        case "k": key = String(fields[5].dropFirst())
        case "n": key = nil
        default: return .failure(.invalid)
        }
        if let timeoutSeconds, nowSeconds - issued > Int64(timeoutSeconds) { return .failure(.expired) }
        return .success(ListCursor(resourceType: fields[1], queryFingerprint: fields[2], issuedAt: issued,
                                   lastID: fields[4], lastKey: key))
    }

    static func mac(_ secret: [UInt8], _ tenant: String, _ payload: [UInt8]) -> [UInt8] {
        Array(HMAC.sha256(key: secret, message: Array((tenant + "\n").utf8) + payload).prefix(16))
    }

    /// The fingerprint of a list query's shape (filter, sort attribute, order).
    package static func fingerprint(filter: ResolvedFilter?, sortBy: ResolvedPath?, sortOrder: SortOrder) -> String {
        let text = (filter?.description ?? "") + "\n" + (sortBy?.description ?? "") + "\n" + sortOrder.rawValue
        return Hex.encode(SHA256.hash(text).prefix(8))
    }
}

extension SCIMError {
    /// RFC 9865 §3: a cursor the server did not issue (or issued for another tenant or query).
    static let invalidCursor = SCIMError(status: 400, scimType: .invalidCursor, detail: "the cursor is not valid for this request")
    /// RFC 9865 §3: a cursor older than `cursorTimeout`.
    static let expiredCursor = SCIMError(status: 400, scimType: .expiredCursor, detail: "the cursor has expired; start again without a cursor")
}
