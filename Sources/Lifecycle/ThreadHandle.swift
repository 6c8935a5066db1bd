#if canImport(Glibc)
import Glibc
#endif
import CLinuxIO

/// A joinable POSIX thread.
public struct ThreadHandle: Sendable {
    fileprivate let thread: pthread_t

    /// Starts a thread named `name` (first 15 bytes) running `body`.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> ThreadHandle {
        final class Box {
            let name: String
            let body: @Sendable () -> Void
            init(_ n: String, _ b: @escaping @Sendable () -> Void) { name = n; body = b }
        }
        let box = Unmanaged.passRetained(Box(String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self), body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.name.withCString { clinuxio_set_thread_name($0) }
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return ThreadHandle(thread: thread)
    }

    /// Waits for the thread to end.
    public func join() {
        pthread_join(thread, nil)
    }
}
