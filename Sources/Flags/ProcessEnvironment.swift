#if canImport(Glibc)
import Glibc
#endif

// The process's environment and standard streams, as the command-line tools use them.

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
