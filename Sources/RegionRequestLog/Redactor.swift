package import JSON
package import RegionSCIM

/// Redacts what the request log stores, for one tenant's settings:
/// - every value under a key that names a secret (`password`, `client_secret`, …: `SecretText.isSensitiveKey`) and
///   every value of an attribute the tenant listed in `redactAttributes` becomes `"[REDACTED]"`, at any depth,
///   including Entra's dotted (`name.givenName`) and URN-qualified keys, and the `value` of a PATCH operation whose
///   `path` names such an attribute (`phoneNumbers[type eq "work"].value`);
/// - every remaining string is scrubbed of secret-looking runs (`SecretText`).
/// The values it hid are remembered (`hidden`), so `scrub` can keep them out of the record's other fields too (an
/// error detail or a filter that repeats a redacted value).
package struct Redactor {
    /// Names listed without a dot (lower case): matched against any key, at any depth.
    let names: Set<String>
    /// `parent.child` pairs (lower case): matched against a key inside `parent`.
    let pairs: Set<String>
    /// The string values replaced so far (3 bytes or longer; shorter ones are too common to scrub from text).
    package private(set) var hidden: Set<String> = []
    /// Whether the record's own name fields are withheld (`userName`, `externalId`, `displayName` listed).
    let withholds: (userName: Bool, externalId: Bool, displayName: Bool)

    /// A redactor for `settings`.
    package init(_ settings: RequestLogSettings) {
        var names: Set<String> = [], pairs: Set<String> = []
        for entry in settings.redactAttributes {
            let name = Self.unqualified(entry).lowercased()
            if name.contains(".") { pairs.insert(name) } else { names.insert(name) }
        }
        self.names = names
        self.pairs = pairs
        withholds = (names.contains("username"), names.contains("externalid"), names.contains("displayname"))
    }

    /// A name without its schema URN (`urn:…:User:employeeNumber` → `employeeNumber`).
    static func unqualified(_ key: String) -> Substring {
        guard key.utf8.count > 4, key.utf8.prefix(4).map({ $0 | 0x20 }).elementsEqual("urn:".utf8),
              let colon = key.lastIndex(of: ":") else { return key[...] }
        return key[key.index(after: colon)...]
    }

    /// Whether the attribute `key` (inside `parent`, lower case, when there is one) is redacted.
    func isRedacted(_ key: String, parent: String?) -> Bool {
        if SecretText.isSensitiveKey(key) { return true }
        let name = Self.unqualified(key).lowercased()
        // Entra's dotted keys in a no-path PATCH value: `name.givenName` is `givenName` inside `name`.
        let parts = name.split(separator: ".", maxSplits: 1)
        if parts.count == 2 {
            return names.contains(String(parts[0])) || names.contains(String(parts[1])) || pairs.contains(name)
        }
        if names.contains(name) { return true }
        if let parent, pairs.contains(parent + "." + name) { return true }
        return false
    }

    /// `value` with every redacted attribute replaced and every string scrubbed.
    package mutating func redact(_ value: JSONValue) -> JSONValue {
        redact(value, parent: nil)
    }

    mutating func redact(_ value: JSONValue, parent: String?) -> JSONValue {
        switch value {
        case .string(let s):
            return .string(SecretText.scrub(s))
        case .array(let items):
            return .array(items.map { redact($0, parent: parent) })
        case .object(let o):
            if let operation = redactOperation(o) { return .object(operation) }
            var out = JSONObject()
            out.reserveCapacity(o.count)
            for (key, v) in o {
                if isRedacted(key, parent: parent) {
                    hide(v)
                    out.appendUnchecked(key: SecretText.scrub(key), value: .string(SecretText.marker))
                } else {
                    // A URN key holds an extension's attributes: their parent is the extension, not a SCIM attribute.
                    let child = key.lowercased().hasPrefix("urn:") ? nil : Self.unqualified(key).lowercased()
                    out.appendUnchecked(key: SecretText.scrub(key), value: redact(v, parent: child))
                }
            }
            return .object(out)
        case .null, .bool, .number:
            return value
        }
    }

    /// A PATCH operation (`op` with a `path`): its whole `value` is redacted when the path names a redacted attribute;
    /// otherwise the value is walked as that attribute's content. nil for an object that is not one.
    mutating func redactOperation(_ o: JSONObject) -> JSONObject? {
        guard o[caseInsensitive: "op"]?.string != nil, let path = o[caseInsensitive: "path"]?.string else { return nil }
        let (attribute, sub) = Self.attribute(ofPath: path)
        let redacted = isRedacted(attribute, parent: nil) || sub.map { isRedacted($0, parent: attribute.lowercased()) } == true
        var out = JSONObject()
        for (key, v) in o {
            if asciiCaseInsensitiveEquals(key, "value") {
                if redacted {
                    hide(v)
                    out.appendUnchecked(key: key, value: .string(SecretText.marker))
                } else {
                    out.appendUnchecked(key: key, value: redact(v, parent: Self.unqualified(attribute).lowercased()))
                }
            } else if asciiCaseInsensitiveEquals(key, "path") {
                // A value filter in the path may carry a value too (`emails[value eq "…"]`).
                out.appendUnchecked(key: key, value: .string(scrub(path)))
            } else {
                out.appendUnchecked(key: key, value: redact(v, parent: nil))
            }
        }
        return out
    }

    /// The attribute a PATCH path names and its sub-attribute: `emails[type eq "work"].value` → (`emails`, `value`),
    /// `name.givenName` → (`name`, `givenName`), `urn:…:User:manager` → (`manager`, nil).
    static func attribute(ofPath path: String) -> (String, String?) {
        var text = Substring(path)
        var sub: Substring? = nil
        if let bracket = text.firstIndex(of: "[") {
            if let close = text.lastIndex(of: "]"), close > bracket {
                let after = text[text.index(after: close)...]
                if after.hasPrefix(".") { sub = after.dropFirst() }
            }
            text = text[..<bracket]
        }
        let name = unqualified(String(text))
        if sub == nil, let dot = name.firstIndex(of: ".") {
            return (String(name[..<dot]), String(name[name.index(after: dot)...]))
        }
        return (String(name), sub.map(String.init))
    }

    /// Remembers the strings (and numbers) of a value being hidden.
    mutating func hide(_ value: JSONValue) {
        switch value {
        case .string(let s): if s.utf8.count >= 3 && s != SecretText.marker { hidden.insert(s) }
        case .number(let n): let text = n.description; if text.utf8.count >= 3 { hidden.insert(text) }
        case .array(let items): for item in items { hide(item) }
        case .object(let o): for (_, v) in o { hide(v) }
        case .null, .bool: break
        }
    }

    /// `text` without secret-looking runs and without any value hidden so far.
    package func scrub(_ text: String) -> String {
        var out = SecretText.scrub(text)
        for value in hidden where out.contains(value) {
            out = out.replacing(value, with: SecretText.marker)
        }
        return out
    }
}
