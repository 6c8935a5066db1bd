package import JSON
package import SCIMCore

/// One canonical profile field of the operator's app and the SCIM attributes it is read from, first present wins.
package struct ProfileField: Sendable, Hashable {
    /// The app's field types (a JSON value of that kind, or null).
    package enum FieldType: String, Sendable, Hashable, CaseIterable {
        case string, boolean, integer, decimal, dateTime

        /// Whether attributes of SCIM type `type` can fill a field of this type (checked when the mapping is saved).
        func accepts(_ type: AttributeType) -> Bool {
            switch self {
            case .string: return type == .string || type == .reference || type == .dateTime || type == .binary
            case .boolean: return type == .boolean
            case .integer: return type == .integer
            case .decimal: return type == .decimal || type == .integer
            case .dateTime: return type == .dateTime
            }
        }

        /// A stored value as a value of this type; nil when it is not one (the field then takes the next source).
        func convert(_ value: JSONValue) -> JSONValue? {
            switch (self, value) {
            case (.string, .string): return value
            case (.boolean, .bool): return value
            case (.boolean, .string(let s)): return IdPDialect.booleanFromString(s).map(JSONValue.bool)
            case (.integer, .number(let n)):
                guard n.isIntegerLiteral, n.int64 != nil else { return nil }
                return value
            case (.decimal, .number): return value
            case (.dateTime, .string(let s)): return SCIMDateTime(parsing: s).map { .string($0.iso8601) }
            default: return nil
            }
        }
    }

    /// The field's name in the profile (a letter, then letters, digits or `_`; 1-64 bytes).
    package var name: String
    package var type: FieldType
    /// Whether the field holds every value of its source (an array) rather than one.
    package var multiValued: Bool
    /// Where the value comes from, in order: the first source with a value of the right type gives it.
    package var sources: [AttributeSelector]

    /// A field.
    package init(name: String, type: FieldType, multiValued: Bool, sources: [AttributeSelector]) {
        self.name = name
        self.type = type
        self.multiValued = multiValued
        self.sources = sources
    }

    /// The field's value in `document`: for a single-valued field the primary (else first) value of the first source
    /// that has one; for a multi-valued field every value of that source. Null (or `[]`) when no source has one.
    /// `problems` collects values that were present but of the wrong type.
    func value(in document: JSONObject, problems: inout [String]) -> JSONValue {
        for source in sources {
            let raw = source.values(in: document)
            if raw.isEmpty { continue }
            var converted: [JSONValue] = []
            for v in raw {
                if let c = type.convert(v) {
                    converted.append(c)
                } else {
                    problems.append("'\(name)': '\(source.text)' holds \(Self.kind(v)), not \(type.rawValue)")
                }
            }
            if converted.isEmpty { continue }
            return multiValued ? .array(converted) : converted[0]
        }
        return multiValued ? .array([]) : .null
    }

    static func kind(_ v: JSONValue) -> String {
        switch v {
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .array: return "an array"
        case .object: return "an object"
        case .null: return "null"
        }
    }

    /// The field as stored and returned.
    package var json: JSONValue {
        ["name": .string(name), "type": .string(type.rawValue), "multiValued": .bool(multiValued),
         "sources": .array(sources.map { .string($0.text) })]
    }
}
