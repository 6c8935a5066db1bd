#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Locking

/// Where log lines go. Writes are whole lines under a lock, so lines from threads never interleave.
public final class LogSink: Sendable {
    private enum Target {
        case fileDescriptor(Int32)
        case memory
    }
    private let target: Target
    private let captured = Lock<[String]>([])
    private let lock = Lock<Void>(())

    private init(target: Target) { self.target = target }

    public static let standardError = LogSink(target: .fileDescriptor(2))
    /// Keeps lines in memory, for tests.
    public static func memory() -> LogSink { LogSink(target: .memory) }

    public func write(_ line: [UInt8]) {
        switch target {
        case .fileDescriptor(let fd):
            lock.withLock { _ in
                line.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                        if n < 0 { if errno == EINTR { continue }; return }
                        offset += n
                    }
                }
            }
        case .memory:
            let text = String(decoding: line, as: UTF8.self)
            captured.withLock { $0.append(text) }
        }
    }

    /// Lines captured by a memory sink.
    public var lines: [String] { captured.withLock { $0 } }
}
