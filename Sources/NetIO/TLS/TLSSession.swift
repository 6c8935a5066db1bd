#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// One TLS session over a non-blocking socket; owns its SSL*.
final class TLSSession {
    private let ssl: OpaquePointer

    init?(context: TLSServerContext, fd: Int32) {
        guard let ssl = SSL_new(context.context) else { return nil }
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
        SSL_set_accept_state(ssl)
        // Partial writes and moving buffers: our write buffer is a Swift array that may be reallocated.
        _ = copenssl_set_mode(ssl, Int(SSL_MODE_ENABLE_PARTIAL_WRITE) | Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        ERR_clear_error()
    }

    deinit { SSL_free(ssl) }

    typealias Outcome = TLSOutcome

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
        return n > 0 ? .bytes(Int(n)) : outcome(n)
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        ERR_clear_error()
        let n = SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
        return n > 0 ? .bytes(Int(n)) : outcome(n)
    }

    /// Sends close_notify, best effort (the socket is closed right after).
    func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
    }

    private func outcome(_ rc: Int32) -> Outcome { TLSOutcome(ssl, rc) }
}
