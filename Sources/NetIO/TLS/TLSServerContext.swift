#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

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
