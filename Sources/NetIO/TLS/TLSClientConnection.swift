#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import Synchronization
import Locking

/// One client TLS session over a non-blocking socket; owns its SSL* (the socket stays the caller's).
final class TLSClientConnection: Sendable {
    // Used by one thread at a time (a connection is checked out for one exchange); the mutex makes it Sendable
    // so idle connections can sit in the client's pool.
    private let handle: Lock<SSLHandle>

    init(_ ssl: OpaquePointer) { handle = Lock(SSLHandle(pointer: ssl)) }

    deinit { handle.withLock { SSL_free($0.pointer) } }

    /// Runs `body` with the SSL* under the lock.
    private func withSSL<R>(_ body: (OpaquePointer) -> R) -> R {
        handle.withLock { body($0.pointer) }
    }

    typealias Outcome = TLSOutcome

    /// One step of the handshake: `.bytes(0)` when it is complete.
    func handshake() -> Outcome {
        withSSL { ssl in
            ERR_clear_error()
            let rc = SSL_connect(ssl)
            return rc == 1 ? .bytes(0) : Self.outcome(ssl, rc)
        }
    }

    /// Why the handshake failed, for the error message: the certificate verification result when there is one.
    var verificationFailure: String? {
        withSSL { ssl in
            let result = SSL_get_verify_result(ssl)
            guard result != X509_V_OK else { return nil }
            return X509_verify_cert_error_string(result).map { String(cString: $0) }
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        withSSL { ssl in
            ERR_clear_error()
            let n = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
            return n > 0 ? .bytes(Int(n)) : Self.outcome(ssl, n)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        withSSL { ssl in
            ERR_clear_error()
            let n = SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
            return n > 0 ? .bytes(Int(n)) : Self.outcome(ssl, n)
        }
    }

    /// Bytes already decrypted and buffered (a poll on the socket would not see them).
    var pending: Bool { withSSL { SSL_pending($0) > 0 } }

    /// Sends close_notify, best effort (the socket is closed right after).
    func shutdown() {
        withSSL { ssl in
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
        }
    }

    private static func outcome(_ ssl: OpaquePointer, _ rc: Int32) -> Outcome { TLSOutcome(ssl, rc) }
}
