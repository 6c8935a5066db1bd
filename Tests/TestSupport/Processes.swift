#if canImport(Glibc)
public import Glibc
#endif

/// Where the built executables are: `SCIM_BIN_DIR`, else next to the test bundle.
public func binaryDirectory() -> String {
    if let dir = getenv("SCIM_BIN_DIR") { return String(cString: dir) }
    let me = CommandLine.arguments.first ?? ".build/debug/x"
    var path = me
    // The test runner lives in <bin>/<Package>PackageTests.xctest (a file on Linux).
    if let slash = path.lastIndex(of: "/") { path = String(path[..<slash]) } else { path = "." }
    return path
}

/// A child process we started; stopped only by its PID.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: `pid` and `exited` are touched only by the test thread that owns this object.
    public let pid: pid_t
    public let logPath: String
    private var exitStatus: Int32? = nil

    /// Starts `executable` with `arguments`; stdout and stderr go to `logPath`.
    public init(executable: String, arguments: [String], environment: [String: String] = [:], logPath: String) throws {
        self.logPath = logPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Children must not inherit our blocked signal mask (they install their own).
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))

        var env = environmentDictionary()
        for (k, v) in environment { env[k] = v }
        let argv = [executable] + arguments
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, cArgs, cEnv)
        guard rc == 0 else { throw RawError.failed("posix_spawn \(executable): \(rc)") }
        self.pid = pid
    }

    /// Sends a signal (SIGTERM by default) to this process only.
    public func signal(_ sig: Int32 = SIGTERM) { kill(pid, sig) }

    /// Waits for exit up to `timeoutMillis`; returns the exit code (128+signal when killed), or nil on timeout.
    @discardableResult
    public func wait(timeoutMillis: Int = 15000) -> Int32? {
        if let s = exitStatus { return s }
        let deadline = monotonicMillis() + timeoutMillis
        while monotonicMillis() < deadline {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                exitStatus = code
                return code
            }
            sleepMillis(10)
        }
        return nil
    }

    /// SIGTERM, wait; SIGKILL if it did not stop in time.
    public func stop(timeoutMillis: Int = 15000) -> Int32? {
        if let s = exitStatus { return s }
        signal(SIGTERM)
        if let code = wait(timeoutMillis: timeoutMillis) { return code }
        signal(SIGKILL)
        return wait(timeoutMillis: 5000)
    }

    public var isRunning: Bool {
        if exitStatus != nil { return false }
        return wait(timeoutMillis: 0) == nil
    }

    public var log: String { readTextFile(logPath) ?? "" }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

/// Waits until `path` holds a port number.
public func waitForPortFile(_ path: String, timeoutMillis: Int = 20000) -> Int? {
    let deadline = monotonicMillis() + timeoutMillis
    while monotonicMillis() < deadline {
        if let text = readTextFile(path), let port = Int(text.trimmingWhitespace()) { return port }
        sleepMillis(20)
    }
    return nil
}

public func readTextFile(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// A fresh directory under /tmp for one test's files.
public func makeTemporaryDirectory(_ prefix: String = "scim-test") -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(made != nil, "mkdtemp failed")
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

public func environmentDictionary() -> [String: String] {
    var result: [String: String] = [:]
    var cursor = environ
    while let entry = cursor.pointee {
        let text = String(cString: entry)
        if let eq = text.firstIndex(of: "=") { result[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
        cursor += 1
    }
    return result
}

extension String {
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

/// Runs a shell command, returning (exit code, combined output). For test set-up (openssl, curl).
public func runShell(_ command: String) -> (Int32, String) {
    let dir = makeTemporaryDirectory("sh")
    let out = dir + "/out"
    guard let child = try? ChildProcess(executable: "/bin/sh", arguments: ["-c", command], logPath: out) else {
        return (-1, "spawn failed")
    }
    let code = child.wait(timeoutMillis: 60000) ?? -1
    let text = child.log
    unlink(out)
    rmdir(dir)
    return (code, text)
}
