#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP as "re-read your configuration", the daemon convention. `ServiceRunner.prepareProcess(reloadSignal: true)`
/// blocks it in every thread (as SIGTERM and SIGINT are), so it never terminates the process; one background thread
/// takes it with `wait(upTo:)`.
public enum ReloadSignal {
    /// Waits up to `timeout` for a SIGHUP; true when one arrived (several pending ones count once).
    public static func wait(upTo timeout: Duration) -> Bool {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGHUP)
        let (seconds, attoseconds) = timeout.components
        var time = timespec(tv_sec: Int(max(0, seconds)), tv_nsec: Int(max(0, attoseconds) / 1_000_000_000))
        while true {
            let received = sigtimedwait(&set, nil, &time)
            if received == SIGHUP { return true }
            // EINTR: another signal interrupted the wait; EAGAIN: the time is up.
            if received < 0 && errno == EINTR { continue }
            return false
        }
    }
}
