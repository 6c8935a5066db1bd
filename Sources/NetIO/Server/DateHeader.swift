#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO
import Synchronization
import HTTPCore
import Telemetry
import Locking
import Lifecycle

/// Per-thread cache of the `Date` header value (a shared one was a contended lock).
struct DateHeader {
    private var second = 0
    private var text = ""
    mutating func current() -> String {
        let now = time(nil)
        if now != second {
            second = now
            text = Timestamp.imfFixdate(epochSeconds: now)
        }
        return text
    }
}
