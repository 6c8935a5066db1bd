#if canImport(Glibc)
import Glibc
#endif
public import Telemetry
import Locking

/// Runs services until SIGINT or SIGTERM, then stops them in reverse start order (swift-service-lifecycle's
/// shape, without async). A second signal during shutdown exits at once.
public enum ServiceRunner {
    /// Blocks SIGINT/SIGTERM and ignores SIGPIPE. Call first thing in `main`, before any thread starts,
    /// so every thread inherits the mask and only `run` receives the signals. `reloadSignal`: SIGHUP is blocked
    /// too, for a thread that takes it with `ReloadSignal.wait` (otherwise it terminates the process, as by default).
    public static func prepareProcess(reloadSignal: Bool = false) {
        signal(SIGPIPE, SIG_IGN)
        // Every connection is a descriptor: take the hard limit (the soft default, often 1024, would cap a gateway's
        // idle keep-alive connections far below --max-connections).
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        var set = terminationSignals()
        if reloadSignal { sigaddset(&set, SIGHUP) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Starts `services` in order and blocks until a termination signal; returns the process exit code.
    public static func run(_ services: [any Service], logger: Logger, gracePeriod: Duration = .seconds(10)) -> Int32 {
        var started: [any Service] = []
        for service in services {
            do {
                try service.start()
                started.append(service)
            } catch {
                logger.critical("failed to start", [("service", .string(service.name)), ("error", .string("\(error)"))])
                for s in started.reversed() { s.shutdown(gracePeriod: .seconds(2)) }
                return 1
            }
        }
        logger.notice("ready", [("services", .string(started.map(\.name).joined(separator: ",")))])
        let signalNumber = waitForSignal()
        logger.notice("shutting down", [("signal", .int(Int64(signalNumber)))])
        _ = ThreadHandle.start(name: "signal-watch") {
            let second = ServiceRunner.waitForSignal()
            _exit(128 + second)
        }
        for service in started.reversed() {
            service.shutdown(gracePeriod: gracePeriod)
        }
        logger.notice("stopped")
        return 0
    }

    static func terminationSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }

    static func waitForSignal() -> Int32 {
        var set = terminationSignals()
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }
}
