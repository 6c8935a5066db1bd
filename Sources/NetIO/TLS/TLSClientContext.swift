#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import Synchronization
import Locking

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
