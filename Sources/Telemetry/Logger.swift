#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Locking

/// A structured logger writing one JSON object per line (JSON-lines) to a sink, normally stderr.
///
/// Passed explicitly (swift-log style); metadata keys are dotted (`tenant.id`, `request.id`, `region`).
/// Messages are autoclosures, so a disabled level costs nothing. Never put secrets or user attributes in
/// messages or metadata: log ids only.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
        case trace, debug, info, notice, warning, error, critical
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        public var description: String {
            switch self {
            case .trace: "trace"
            case .debug: "debug"
            case .info: "info"
            case .notice: "notice"
            case .warning: "warning"
            case .error: "error"
            case .critical: "critical"
            }
        }
        /// Parses `trace|debug|info|notice|warning|error|critical` (case-insensitive).
        public init?(name: String) {
            guard let level = Level.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
            self = level
        }
    }

    /// A metadata value: strings and numbers only, rendered as JSON.
    public enum Value: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
        ExpressibleByStringInterpolation {
        case string(String)
        case int(Int64)
        case double(Double)
        case bool(Bool)
        public init(stringLiteral value: String) { self = .string(value) }
        public init(integerLiteral value: Int) { self = .int(Int64(value)) }
    }

    public typealias Metadata = [(String, Value)]

    public let label: String
    public var level: Level
    public private(set) var metadata: Metadata
    let sink: LogSink

    public init(label: String, level: Level = .info, sink: LogSink = .standardError) {
        self.label = label
        self.level = level
        self.metadata = []
        self.sink = sink
    }

    /// A copy carrying one more metadata entry on every line (replaces an existing key).
    public func with(_ key: String, _ value: Value) -> Logger {
        var copy = self
        copy.metadata.removeAll { $0.0 == key }
        copy.metadata.append((key, value))
        return copy
    }

    public func log(_ level: Level, _ message: @autoclosure () -> String,
                    _ extra: @autoclosure () -> Metadata = []) {
        guard level >= self.level else { return }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line.append(contentsOf: "{\"ts\":\"".utf8)
        line.append(contentsOf: Timestamp.iso8601(epochMillis: Timestamp.nowEpochMillis()).utf8)
        line.append(contentsOf: "\",\"level\":\"".utf8)
        line.append(contentsOf: level.description.utf8)
        line.append(contentsOf: "\",\"logger\":".utf8)
        JSONText.appendString(label, to: &line)
        line.append(contentsOf: ",\"msg\":".utf8)
        JSONText.appendString(message(), to: &line)
        for (key, value) in metadata { Self.append(key, value, to: &line) }
        for (key, value) in extra() { Self.append(key, value, to: &line) }
        line.append(contentsOf: "}\n".utf8)
        sink.write(line)
    }

    public func trace(_ m: @autoclosure () -> String, _ md: @autoclosure () -> Metadata = []) { log(.trace, m(), md()) }
    public func debug(_ m: @autoclosure () -> String, _ md: @autoclosure () -> Metadata = []) { log(.debug, m(), md()) }
    public func info(_ m: @autoclosure () -> String, _ md: @autoclosure () -> Metadata = []) { log(.info, m(), md()) }
    public func notice(_ m: @autoclosure () -> String, _ md: @autoclosure () -> Metadata = []) { log(.notice, m(), md()) }
    public func warning(_ m: @autoclosure () -> String, _ md: @autoclosure () -> Metadata = []) { log(.warning, m(), md()) }
    public func error(_ m: @autoclosure () -> String, _ md: @autoclosure () -> Metadata = []) { log(.error, m(), md()) }
    public func critical(_ m: @autoclosure () -> String, _ md: @autoclosure () -> Metadata = []) { log(.critical, m(), md()) }

    private static func append(_ key: String, _ value: Value, to line: inout [UInt8]) {
        line.append(0x2C)
        JSONText.appendString(key, to: &line)
        line.append(0x3A)
        switch value {
        case .string(let s): JSONText.appendString(s, to: &line)
        case .int(let i): line.append(contentsOf: String(i).utf8)
        case .double(let d): line.append(contentsOf: (d.isFinite ? String(d) : "null").utf8)
        case .bool(let b): line.append(contentsOf: (b ? "true" : "false").utf8)
        }
    }
}
