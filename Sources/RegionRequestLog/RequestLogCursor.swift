import Crypto

/// Where a request-log listing continues: a row position (`xid`, `seq`), which way (older rows, or rows newer than
/// it), and the filters it belongs to, signed for one tenant.
///
/// Wire form, as `ListCursor`'s: `base64url(payload) "." base64url(HMAC-SHA-256(secret, tenant "\n" payload)[0..<16])`
/// under the region's cursor key. A cursor from another tenant, another filter or with any byte changed is refused
/// (400 `invalidCursor`); the position itself is not secret.
package struct RequestLogCursor: Sendable, Equatable {
    /// Which rows a cursor continues with.
    package enum Direction: String, Sendable {
        /// Rows before the position, newest first (the next page of a listing).
        case older = "o"
        /// Rows after the position, oldest first (following the log as it grows).
        case newer = "n"
    }

    package var direction: Direction
    package var xid: UInt64
    package var seq: Int64
    /// `RequestLogQuery.fingerprint` of the filters that made it.
    package var fingerprint: String

    static let version = "r1"

    package init(direction: Direction, xid: UInt64, seq: Int64, fingerprint: String) {
        self.direction = direction
        self.xid = xid
        self.seq = seq
        self.fingerprint = fingerprint
    }

    /// The signed token.
    package func encode(secret: [UInt8], tenant: String) -> String {
        let payload = Array([Self.version, direction.rawValue, String(xid), String(seq), fingerprint].joined(separator: "\n").utf8)
        return Base64.encode(payload, urlSafe: true) + "." + Base64.encode(Self.mac(secret, tenant, payload), urlSafe: true)
    }

    /// Verifies and decodes a token; nil for anything not issued by this region for this tenant.
    package static func decode(_ token: String, secret: [UInt8], tenant: String) -> RequestLogCursor? {
        guard token.utf8.count <= 512, let dot = token.lastIndex(of: "."),
              let payload = Base64.decode(String(token[..<dot])),
              let tag = Base64.decode(String(token[token.index(after: dot)...])), tag.count == 16,
              constantTimeEquals(tag, mac(secret, tenant, payload)) else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0] == version, let direction = Direction(rawValue: String(fields[1])),
              let xid = UInt64(fields[2]), let seq = Int64(fields[3]) else { return nil }
        return RequestLogCursor(direction: direction, xid: xid, seq: seq, fingerprint: String(fields[4]))
    }

    static func mac(_ secret: [UInt8], _ tenant: String, _ payload: [UInt8]) -> [UInt8] {
        // A domain prefix keeps these tags apart from list cursors signed with the same key.
        Array(HMAC.sha256(key: secret, message: Array(("request-log\n" + tenant + "\n").utf8) + payload).prefix(16))
    }
}
