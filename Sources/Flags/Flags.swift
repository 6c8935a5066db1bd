#if canImport(Glibc)
import Glibc
#endif

/// A command-line option: `--name value`, `--name=value`, or a boolean `--name`. Each may fall back to an
/// environment variable and then a default; `--help` lists them all.
public struct Option: Sendable {
    public enum Kind: Sendable { case value(placeholder: String), boolean }
    public var name: String
    public var kind: Kind
    public var environment: String?
    public var defaultValue: String?
    public var help: String
    /// Values that must not be echoed in `--help` defaults or errors (tokens, passwords).
    public var secret: Bool

    public static func value(_ name: String, _ placeholder: String = "value", env: String? = nil,
                             default defaultValue: String? = nil, secret: Bool = false, help: String) -> Option {
        Option(name: name, kind: .value(placeholder: placeholder), environment: env, defaultValue: defaultValue,
               help: help, secret: secret)
    }

    public static func flag(_ name: String, env: String? = nil, help: String) -> Option {
        Option(name: name, kind: .boolean, environment: env, defaultValue: nil, help: help, secret: false)
    }
}

/// A usage error: the message is printed with the usage line and the process exits with status 2.
public struct UsageError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

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

extension Duration {
    /// `500ms`, `5s`, `15m`, `1h`, `14d`, or plain seconds; nil for anything else (negative values included).
    public static func parse(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, millis) in units where text.hasSuffix(suffix) {
            // "ms" ends in "s" too: a unit only counts when what is left is a number.
            guard let n = Int64(text.dropLast(suffix.count)), n >= 0, n <= Int64.max / millis / 1_000_000 else { continue }
            return .milliseconds(n * millis)
        }
        guard let n = Int64(text), n >= 0, n <= Int64.max / 1_000_000_000 else { return nil }
        return .seconds(n)
    }

    /// The shortest of `Nms`, `Ns`, `Nm`, `Nh`, `Nd` that says this duration exactly (for messages and help).
    public var flagText: String {
        let millis = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        for (suffix, unit) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where millis % unit == 0 && millis != 0 {
            return "\(millis / unit)\(suffix)"
        }
        return "\(millis)ms"
    }
}

/// A command's options and how to describe them.
public struct CommandLineSpec: Sendable {
    public var command: String
    public var summary: String
    public var usage: String
    public var options: [Option]
    /// Extra text after the option list (examples, environment notes).
    public var epilogue: String

    public init(command: String, summary: String, usage: String? = nil, options: [Option], epilogue: String = "") {
        self.command = command
        self.summary = summary
        self.usage = usage ?? "\(command) [options]"
        self.options = options
        self.epilogue = epilogue
    }

    /// Parses `arguments` (without the program name). Unknown options are errors; `--` ends options.
    public func parse(_ arguments: [String], environment: [String: String] = [:]) throws(UsageError) -> ParsedOptions {
        var values: [String: String] = [:]
        var booleans = Set<String>()
        var positionals: [String] = []
        var help = false
        var i = 0
        var optionsEnded = false
        while i < arguments.count {
            let arg = arguments[i]
            i += 1
            if optionsEnded || !arg.hasPrefix("-") || arg == "-" {
                positionals.append(arg)
                continue
            }
            if arg == "--" { optionsEnded = true; continue }
            if arg == "--help" || arg == "-h" { help = true; continue }
            guard arg.hasPrefix("--") else { throw UsageError("unknown option '\(arg)'") }
            var name = String(arg.dropFirst(2))
            var inline: String? = nil
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let option = options.first(where: { $0.name == name }) else {
                throw UsageError("unknown option '--\(name)'")
            }
            switch option.kind {
            case .boolean:
                if let inline {
                    switch inline.lowercased() {
                    case "true", "1", "yes": booleans.insert(name)
                    case "false", "0", "no": booleans.remove(name)
                    default: throw UsageError("option --\(name) expects true or false")
                    }
                } else {
                    booleans.insert(name)
                }
            case .value:
                if let inline {
                    values[name] = inline
                } else {
                    guard i < arguments.count else { throw UsageError("option --\(name) needs a value") }
                    values[name] = arguments[i]
                    i += 1
                }
            }
        }
        for option in options {
            switch option.kind {
            case .value:
                if values[option.name] == nil {
                    if let env = option.environment, let v = environment[env] { values[option.name] = v }
                    else if let d = option.defaultValue { values[option.name] = d }
                }
            case .boolean:
                if !booleans.contains(option.name), let env = option.environment, let v = environment[env],
                   ["1", "true", "yes"].contains(v.lowercased()) {
                    booleans.insert(option.name)
                }
            }
        }
        return ParsedOptions(values: values, booleans: booleans, positionals: positionals, helpRequested: help)
    }

    /// The `--help` text.
    public var helpText: String {
        var lines = ["\(command): \(summary)", "", "Usage: \(usage)", "", "Options:"]
        for option in options {
            var left = "  --\(option.name)"
            if case .value(let placeholder) = option.kind { left += " <\(placeholder)>" }
            var right = option.help
            var notes: [String] = []
            if let env = option.environment { notes.append("env \(env)") }
            if let d = option.defaultValue, !option.secret { notes.append("default \(d.isEmpty ? "\"\"" : d)") }
            if !notes.isEmpty { right += " (" + notes.joined(separator: "; ") + ")" }
            if left.count < 34 {
                lines.append(left + String(repeating: " ", count: 34 - left.count) + right)
            } else {
                lines.append(left)
                lines.append(String(repeating: " ", count: 34) + right)
            }
        }
        lines.append("  --help, -h" + String(repeating: " ", count: 24) + "Show this help and exit")
        if !epilogue.isEmpty { lines.append(""); lines.append(epilogue) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses the process's arguments; prints help (exit 0) or a usage error (exit 2) itself.
    public func parseOrExit(_ arguments: [String] = Array(CommandLine.arguments.dropFirst()),
                            environment: [String: String] = ProcessEnvironment.current) -> ParsedOptions {
        do {
            let parsed = try parse(arguments, environment: environment)
            if parsed.helpRequested {
                writeStandardOutput(helpText)
                exit(0)
            }
            return parsed
        } catch {
            exitWithUsageError(error)
        }
    }

    /// Prints `error: …` and the usage line to stderr, then exits with status 2.
    public func exitWithUsageError(_ error: UsageError) -> Never {
        writeStandardError("\(command): error: \(error.message)\nUsage: \(usage)\nRun '\(command) --help' for the options.\n")
        exit(2)
    }
}

/// The process environment as a dictionary.
public enum ProcessEnvironment {
    public static var current: [String: String] {
        var result: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            cursor += 1
        }
        return result
    }
}

public func writeStandardOutput(_ text: String) { writeAll(1, text) }
public func writeStandardError(_ text: String) { writeAll(2, text) }

private func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { if errno == EINTR { continue }; return }
        offset += n
    }
}
