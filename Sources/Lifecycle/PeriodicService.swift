/// A background job as a `Service`, the one shape every periodic job of the processes takes (health probes, the
/// keyring watcher, last-use and quirk flushes, event purges, webhook workers, migration retries):
/// - `first` runs in `start`, on the caller's thread; returning true means there is nothing left to do, and no
///   thread is started (a migration that succeeded at once). Its error stops the process's start.
/// - `tick` runs every `interval` on each of `threads` threads until shutdown, or until it returns false.
/// - `last` runs once at shutdown, after the threads (a final flush).
/// `waitOnStop` makes shutdown wait for a tick in progress; leave it off for ticks that may block for long (an HTTP
/// call to a webhook receiver).
public final class PeriodicService: Service {
    public let name: String
    private let interval: Duration
    private let threads: [PeriodicThread]
    private let waitOnStop: Bool
    private let first: (@Sendable () throws -> Bool)?
    private let last: (@Sendable () -> Void)?
    private let tick: @Sendable () -> Bool

    public init(_ name: String, every interval: Duration, threads: Int = 1, waitOnStop: Bool = true,
                first: (@Sendable () throws -> Bool)? = nil, last: (@Sendable () -> Void)? = nil,
                tick: @escaping @Sendable () -> Bool) {
        self.name = name
        self.interval = interval
        self.threads = (0..<max(1, threads)).map { PeriodicThread(name: threads > 1 ? "\(name)-\($0)" : name) }
        self.waitOnStop = waitOnStop
        self.first = first
        self.last = last
        self.tick = tick
    }

    public func start() throws {
        if let first, try first() { return }
        for thread in threads { thread.start(interval: interval, tick) }
    }

    public func shutdown(gracePeriod: Duration) {
        for thread in threads { thread.stop(wait: false) }
        if waitOnStop { for thread in threads { thread.stop(wait: true) } }
        last?()
    }
}
