import Testing
import HTTPCore
import NetIO
import TestSupport
import Locking
import Lifecycle

/// Found by `make chaos`: the gateway crashed (arithmetic overflow trap) while a region was killed under load.
/// `HTTPClient.checkout` aged idle connections as `now - lastUsed` with `now` read before taking one from the idle
/// list, so a connection another thread checked in meanwhile had `lastUsed > now` and the unsigned subtraction
/// trapped. Many threads sharing one client hit that window.
@Suite struct ClientRaceTests {
    @Test func manyThreadsSharingOneClientNeverTrap() throws {
        try withServer({ $0.workerThreads = 8 }) { server in
            let client = HTTPClient(host: "127.0.0.1", port: server.port)
            let failures = ConditionLock(0)
            let threads = (0..<12).map { t in
                ThreadHandle.start(name: "caller-\(t)") {
                    for i in 0..<800 {
                        let r = try? client.send(HTTPRequest(method: .get, target: "/r/\(t)/\(i)"))
                        if r?.bodyText != "/r/\(t)/\(i)" { failures.withLock { $0 += 1 } }
                    }
                }
            }
            threads.forEach { $0.join() }
            #expect(failures.withLock { $0 } == 0)
        }
    }
}
