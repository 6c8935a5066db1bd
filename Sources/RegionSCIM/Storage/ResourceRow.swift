import JSON
import Postgres
import SCIMCore

/// The indexed columns derived from a document: the one place that decides what goes into them.
struct ResourceRow {
    var name: String
    var nameKey: String
    var externalID: String?
    var displayName: String?
    var displayNameKey: String?
    var active: Bool?
    var emailKeys: [String]

    init(kind: ResourceKind, document: JSONObject) throws(SCIMError) {
        let externalID = document["externalId"]?.string
        switch kind {
        case .user:
            guard let userName = document["userName"]?.string, !userName.isEmpty else {
                throw .invalidValue("'userName' must be a non-empty string")
            }
            name = userName
            nameKey = CaseFold.fold(userName)
            displayName = document["displayName"]?.string
            displayNameKey = displayName.map(CaseFold.fold)
            active = document["active"]?.bool
            var keys: [String] = []
            for email in document["emails"]?.array ?? [] {
                if let value = email["value"]?.string, !value.isEmpty {
                    let key = CaseFold.fold(value)
                    if !keys.contains(key) { keys.append(key) }
                }
            }
            emailKeys = keys
        case .group:
            guard let displayName = document["displayName"]?.string, !displayName.isEmpty else {
                throw .invalidValue("'displayName' must be a non-empty string")
            }
            name = displayName
            nameKey = CaseFold.fold(displayName)
            self.displayName = displayName
            displayNameKey = nameKey
            active = nil
            emailKeys = []
        }
        self.externalID = externalID
        try Self.rejectNUL(.object(document))
    }

    /// PostgreSQL text and jsonb cannot hold U+0000; refuse it as a value error rather than failing in the database.
    static func rejectNUL(_ value: JSONValue) throws(SCIMError) {
        switch value {
        case .string(let s):
            if s.utf8.contains(0) { throw .invalidValue("string values must not contain the NUL character") }
        case .array(let a): for v in a { try rejectNUL(v) }
        case .object(let o):
            for (k, v) in o {
                if k.utf8.contains(0) { throw .invalidValue("attribute names must not contain the NUL character") }
                try rejectNUL(v)
            }
        case .null, .bool, .number: break
        }
    }
}
