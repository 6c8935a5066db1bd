#if canImport(Glibc)
import Glibc
#endif
import Synchronization
