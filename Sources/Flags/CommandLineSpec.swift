#if canImport(Glibc)
import Glibc
#endif

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
