#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// Certificate and key for serving HTTPS.
public struct TLSConfiguration: Sendable, Equatable {
    public var certificateChainPath: String
    public var privateKeyPath: String
    public init(certificateChainPath: String, privateKeyPath: String) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}

/// A TLS set-up failure; the message names the file or step, never key material.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "TLS: \(message)" }
}

/// A server-side SSL_CTX with modern defaults: TLS 1.2 minimum, AEAD ciphers with forward secrecy,
/// no compression, no renegotiation.
final class TLSServerContext: @unchecked Sendable {
    // @unchecked: an SSL_CTX is fully configured in init and then only read (SSL_new), which OpenSSL
    // guards with its own internal locks.
    let context: OpaquePointer

    init(_ configuration: TLSConfiguration) throws(TLSError) {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError(message: "SSL_CTX_new failed") }
        context = ctx
        _ = copenssl_set_min_proto_version(ctx, TLS1_2_VERSION)
        _ = copenssl_ctx_set_options(ctx, copenssl_server_options())
        _ = SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
            + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
            + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
        guard SSL_CTX_use_certificate_chain_file(ctx, configuration.certificateChainPath) == 1 else {
            throw TLSError(message: "cannot load certificate chain from \(configuration.certificateChainPath)")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, configuration.privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError(message: "cannot load private key from \(configuration.privateKeyPath)")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError(message: "private key does not match the certificate")
        }
    }

    deinit { SSL_CTX_free(context) }
}

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

/// What one SSL_read/SSL_write/SSL_do_handshake step did (server and client sessions alike).
enum TLSOutcome {
    case bytes(Int)
    case wantRead
    case wantWrite
    case closed
    case failed

    /// The outcome of a call that returned `rc` <= 0, from `SSL_get_error`.
    init(_ ssl: OpaquePointer, _ rc: Int32) {
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ: self = .wantRead
        case SSL_ERROR_WANT_WRITE: self = .wantWrite
        case SSL_ERROR_ZERO_RETURN: self = .closed
        default: self = .failed
        }
    }
}
