#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

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
