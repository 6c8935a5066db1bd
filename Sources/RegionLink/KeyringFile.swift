#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Locking
import CivilTime

/// The keyring on disk: loaded at start, reloaded when the file changes (so keys rotate without restarts), and
/// saved atomically (temporary file with mode 0600, then rename) when the gateway rotates keys itself.
public final class KeyringFile: Sendable {
    public let path: String
    private struct Loaded: Sendable {
        var keyring: Keyring
        var stamp: FileStamp
    }
    private let loaded: Lock<Loaded>

    /// Loads `path`. With `createIfMissing`, a missing file is created with one current link key, one current
    /// pepper and one current webhook key (what `make run` uses; production provides the file from its secret store).
    public init(path: String, createIfMissing: Bool = false) throws(KeyringError) {
        self.path = path
        if createIfMissing && access(path, F_OK) != 0 {
            let stamp = Self.dateStamp()
            var ring = Keyring()
            ring.add(.generate(purpose: .link, id: "link-\(stamp)", state: .current))
            ring.add(.generate(purpose: .pepper, id: "pepper-\(stamp)", state: .current))
            ring.add(.generate(purpose: .webhook, id: "webhook-\(stamp)", state: .current))
            try Self.write(ring, to: path)
        }
        guard let (ring, stamp) = try Self.read(path) else {
            throw KeyringError("cannot read keyring file \(path)")
        }
        loaded = Lock(Loaded(keyring: ring, stamp: stamp))
    }

    public var keyring: Keyring { loaded.withLock { $0.keyring } }

    /// Re-reads the file if its size, inode or modification time changed. Returns the new keyring when it
    /// changed and parsed; a file that no longer parses is ignored (the old keys stay) and reported as an error.
    public func reloadIfChanged() throws(KeyringError) -> Keyring? {
        guard let current = FileStamp(path: path) else { return nil }
        if loaded.withLock({ $0.stamp }) == current { return nil }
        guard let (ring, stamp) = try Self.read(path) else { return nil }
        let changed = loaded.withLock { l -> Bool in
            l.stamp = stamp
            if l.keyring == ring { return false }
            l.keyring = ring
            return true
        }
        return changed ? ring : nil
    }

    /// Writes `keyring` atomically and makes it the loaded one.
    public func save(_ keyring: Keyring) throws(KeyringError) {
        try Self.write(keyring, to: path)
        if let stamp = FileStamp(path: path) {
            loaded.withLock { $0 = Loaded(keyring: keyring, stamp: stamp) }
        }
    }

    /// Whether this process may rewrite the file (it is read-only when mounted from a secret store).
    public var isWritable: Bool {
        let dir = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return access(path, W_OK) == 0 && access(dir.isEmpty ? "." : dir, W_OK) == 0
    }

    private static func read(_ path: String) throws(KeyringError) -> (Keyring, FileStamp)? {
        guard let stamp = FileStamp(path: path), let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n > 0 { bytes.append(contentsOf: buffer[0..<n]) }
            if n < buffer.count { break }
        }
        let ring: Keyring
        do {
            ring = try Keyring(text: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw KeyringError("\(path): \(error.message)")
        }
        return (ring, stamp)
    }

    private static func write(_ keyring: Keyring, to path: String) throws(KeyringError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KeyringError("cannot write keyring file \(path)") }
        let bytes = Array(keyring.text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 {
                close(fd)
                unlink(temporary)
                throw KeyringError("cannot write keyring file \(path)")
            }
            offset += n
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw KeyringError("cannot replace keyring file \(path)")
        }
    }

    private static func dateStamp() -> String {
        var t = time(nil)
        var tmValue = tm()
        gmtime_r(&t, &tmValue)
        let pad = CivilDate.pad
        return pad(Int(tmValue.tm_year) + 1900, 4) + pad(Int(tmValue.tm_mon) + 1, 2) + pad(Int(tmValue.tm_mday), 2)
            + "-" + pad(Int(tmValue.tm_hour), 2) + pad(Int(tmValue.tm_min), 2) + pad(Int(tmValue.tm_sec), 2)
    }
}
