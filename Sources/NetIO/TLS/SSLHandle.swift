#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import Synchronization

/// An SSL* that may cross threads: it is only ever stored inside the Mutex of `TLSClientConnection`, which
/// serialises every use of it.
struct SSLHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
