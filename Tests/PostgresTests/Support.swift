import Glibc
import Postgres
import Synchronization
import TestSupport

/// Databases shared by the tests of one suite (created once per test process; leftovers are
/// dropped by the next run).
enum SharedDatabase {
    static let connection = Result { try TestDatabase.create("conn") }
    static let pool = Result { try TestDatabase.create("pool") }
}

/// Runs `body(i)` for i in 0..<count on `count` real OS threads at once and waits for all.
/// (Dispatch's concurrentPerform caps parallelism at the core count; pool tests need more.)
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Job: Sendable {
        let index: Int
        let body: @Sendable (Int) -> Void
        init(_ index: Int, _ body: @escaping @Sendable (Int) -> Void) {
            self.index = index
            self.body = body
        }
    }
    var threads: [pthread_t] = []
    for index in 0..<count {
        var thread = pthread_t()
        let job = Unmanaged.passRetained(Job(index, body)).toOpaque()
        let status = pthread_create(
            &thread, nil,
            { context in
                let job = Unmanaged<Job>.fromOpaque(context!).takeRetainedValue()
                job.body(job.index)
                return nil
            }, job)
        precondition(status == 0, "pthread_create failed")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Polls `condition` every 10 ms until true or `timeout`; returns the last value.
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// Terminates the server sessions with these pids (as superuser) and waits until they are gone.
func terminate(_ pids: [Int32], database: TestDatabase) throws {
    let admin = try PostgresConnection(configuration: database.adminConfiguration)
    for pid in pids {
        try admin.query("SELECT pg_terminate_backend($1::int, 5000)", [.int(Int64(pid))])
    }
}

/// A thread-safe list for collecting values from handler threads.
final class Collected<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}
