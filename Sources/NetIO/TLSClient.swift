#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import Synchronization
import Locking

/// How an HTTPS client verifies servers.
public struct TLSClientConfiguration: Sendable, Equatable {
    /// A PEM file of extra trusted CA certificates (a private CA, or a test CA), trusted besides the system store.
    public var trustedCAFile: String?
    /// Whether to trust the system CA store (OpenSSL's default paths, e.g. /etc/ssl/certs).
    public var useSystemTrustStore: Bool
    /// The name to verify and to send as SNI; nil means the host the client connects to.
    public var serverName: String?

    /// Verification against the system store (plus `trustedCAFile`) and the host name.
    public init(trustedCAFile: String? = nil, useSystemTrustStore: Bool = true, serverName: String? = nil) {
        self.trustedCAFile = trustedCAFile
        self.useSystemTrustStore = useSystemTrustStore
        self.serverName = serverName
    }
}

/// A client-side SSL_CTX: TLS 1.2 minimum, peer verification on, no compression or renegotiation.
final class TLSClientContext: Sendable {
    // The SSL_CTX is configured here and afterwards only used to create sessions; the mutex makes that explicit.
    private let context: Lock<OpaquePointer>

    init(_ configuration: TLSClientConfiguration) throws(TLSError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError(message: "SSL_CTX_new failed") }
        _ = copenssl_set_min_proto_version(ctx, TLS1_2_VERSION)
        _ = copenssl_ctx_set_options(ctx, copenssl_client_options())
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        if configuration.useSystemTrustStore && SSL_CTX_set_default_verify_paths(ctx) != 1 {
            SSL_CTX_free(ctx)
            throw TLSError(message: "cannot load the system CA store")
        }
        if let file = configuration.trustedCAFile, SSL_CTX_load_verify_locations(ctx, file, nil) != 1 {
            SSL_CTX_free(ctx)
            throw TLSError(message: "cannot load trusted CA certificates from \(file)")
        }
        context = Lock(ctx)
    }

    deinit { context.withLock { SSL_CTX_free($0) } }

    /// A session for a connected socket, verifying `name` (a DNS name, or an IP literal checked against the
    /// certificate's IP addresses).
    func session(fd: Int32, name: String) -> TLSClientConnection? {
        guard let ssl = context.withLock({ SSL_new($0) }) else { return nil }
        SSL_set_fd(ssl, fd)
        SSL_set_connect_state(ssl)
        _ = copenssl_set_mode(ssl, Int(SSL_MODE_ENABLE_PARTIAL_WRITE) | Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        var ok: Bool
        if Self.isIPLiteral(name) {
            // RFC 6066 §3: no SNI for address literals; verify the address instead of a name.
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1
        } else {
            ok = copenssl_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1
        }
        // No wildcard spanning several labels, no partial-label wildcards (RFC 6125 §6.4.3).
        SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        if !ok {
            SSL_free(ssl)
            return nil
        }
        return TLSClientConnection(ssl)
    }

    static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

/// An SSL* that may cross threads: it is only ever stored inside the Mutex of `TLSClientConnection`, which
/// serialises every use of it.
struct SSLHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// One client TLS session over a non-blocking socket; owns its SSL* (the socket stays the caller's).
final class TLSClientConnection: Sendable {
    // Used by one thread at a time (a connection is checked out for one exchange); the mutex makes it Sendable
    // so idle connections can sit in the client's pool.
    private let handle: Lock<SSLHandle>

    fileprivate init(_ ssl: OpaquePointer) { handle = Lock(SSLHandle(pointer: ssl)) }

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
