#if canImport(Glibc)
import Glibc
#endif

/// Parsed options and positional arguments.
public struct ParsedOptions: Sendable {
    private var values: [String: String]
    private var booleans: Set<String>
    public var positionals: [String]
    /// True when `--help` or `-h` was given.
    public var helpRequested: Bool

    init(values: [String: String], booleans: Set<String>, positionals: [String], helpRequested: Bool) {
        self.values = values
        self.booleans = booleans
        self.positionals = positionals
        self.helpRequested = helpRequested
    }

    /// The option's value (command line, then environment, then default), or nil.
    public func string(_ name: String) -> String? { values[name] }

    /// The value, or a usage error naming the option.
    public func required(_ name: String) throws(UsageError) -> String {
        guard let v = values[name], !v.isEmpty else { throw UsageError("missing required option --\(name)") }
        return v
    }

    public func int(_ name: String) throws(UsageError) -> Int? {
        guard let text = values[name] else { return nil }
        guard let v = Int(text) else { throw UsageError("option --\(name) expects an integer, got '\(text)'") }
        return v
    }

    public func int(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let v = try int(name) else { return nil }
        guard range.contains(v) else {
            throw UsageError("option --\(name) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return v
    }

    public func bool(_ name: String) -> Bool { booleans.contains(name) }

    /// A duration option (`500ms`, `10s`, `15m`, `1h`, `14d`, or plain seconds) within `range`, or nil when unset.
    public func duration(_ name: String, in range: ClosedRange<Duration>) throws(UsageError) -> Duration? {
        guard let text = values[name] else { return nil }
        guard let d = Duration.parse(text) else {
            throw UsageError("option --\(name) expects a duration such as 500ms, 10s, 15m, 1h or 14d, got '\(text)'")
        }
        guard range.contains(d) else {
            throw UsageError("option --\(name) must be between \(range.lowerBound.flagText) and \(range.upperBound.flagText)")
        }
        return d
    }
}
