import Crypto

/// The handle of a reconciliation snapshot, as its pages are asked for: the PostgreSQL snapshot id exported by the
/// transaction that holds it, and its deadline, signed for one tenant with the region's cursor key (so a token is
/// refused for any other tenant and cannot be edited). Wire form: `snap` + base64url(payload) `.` base64url(tag).
struct SnapshotToken: Sendable, Equatable {
    /// `pg_export_snapshot()`'s id (hex digits and dashes).
    var exportedID: String
    /// Seconds since the epoch.
    var createdAt: Int64
    var expiresAt: Int64

    func encode(secret: [UInt8], tenant: String) -> String {
        let payload = Array("v1\n\(exportedID)\n\(createdAt)\n\(expiresAt)".utf8)
        return "snap" + Base64.encode(payload, urlSafe: true) + "." + Base64.encode(Self.mac(secret, tenant, payload), urlSafe: true)
    }

    /// Verifies and decodes a token; nil for anything not issued by this region for this tenant.
    static func decode(_ token: String, secret: [UInt8], tenant: String) -> SnapshotToken? {
        guard token.hasPrefix("snap"), token.utf8.count <= 200, let dot = token.lastIndex(of: "."),
              let payload = Base64.decode(String(token[token.index(token.startIndex, offsetBy: 4)..<dot])),
              let tag = Base64.decode(String(token[token.index(after: dot)...])), tag.count == 16,
              constantTimeEquals(tag, mac(secret, tenant, payload)) else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 4, fields[0] == "v1", isExportedID(fields[1]), let created = Int64(fields[2]),
              let expires = Int64(fields[3]) else { return nil }
        return SnapshotToken(exportedID: fields[1], createdAt: created, expiresAt: expires)
    }

    /// `pg_export_snapshot()` ids are hex words joined by dashes (`00000003-0000001B-1`); only those are ever put in
    /// `SET TRANSACTION SNAPSHOT`, which takes no parameters.
    static func isExportedID(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) || c == UInt8(ascii: "-")
        }
    }

    static func mac(_ secret: [UInt8], _ tenant: String, _ payload: [UInt8]) -> [UInt8] {
        Array(HMAC.sha256(key: secret, message: Array(("snapshot\n" + tenant + "\n").utf8) + payload).prefix(16))
    }
}
