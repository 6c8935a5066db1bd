#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

// Function-like macros are not imported into Swift; wrap the ones we use.
static inline long copenssl_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long copenssl_set_mode(SSL *ssl, long mode) { return SSL_set_mode(ssl, mode); }
static inline long copenssl_ctx_set_options(SSL_CTX *ctx, unsigned long options) {
    return (long)SSL_CTX_set_options(ctx, options);
}
/// SNI for TLS clients (a macro around SSL_ctrl).
static inline long copenssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
/// Options for TLS clients: no compression, no renegotiation.
static inline unsigned long copenssl_client_options(void) {
    return SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
}
/// Options for our TLS servers: no compression (CRIME), no renegotiation, server cipher preference.
static inline unsigned long copenssl_server_options(void) {
    return SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE;
}

// SHA-256 through the low-level interface: no provider lookup per call (EVP_Q_mac/EVP_Q_digest fetch the algorithm
// every time, which dominated the cost of signing a request). Wrapped here so Swift sees no deprecation warnings.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static inline void copenssl_sha256_init(SHA256_CTX *c) { SHA256_Init(c); }
static inline void copenssl_sha256_update(SHA256_CTX *c, const void *data, size_t len) { SHA256_Update(c, data, len); }
static inline void copenssl_sha256_final(SHA256_CTX *c, unsigned char *md) { SHA256_Final(md, c); }
#pragma GCC diagnostic pop
#endif
