import Postgres
import Synchronization
import TestSupport
import Testing

@Suite struct ListenerTests {
    @Test func deliversNotificationsAndRelistensAfterConnectionLoss() throws {
        do {
            let database = try SharedDatabase.connection.get()
            let received = Collected<PostgresNotification>()
            let reconnects = Atomic<Int>(0)
            let listener = PostgresListener(
                configuration: database.appConfiguration, channels: ["token_revoked", "Mixed Case \"chan\""],
                initialBackoff: .milliseconds(20),
                onReconnect: { reconnects.add(1, ordering: .relaxed) },
                onNotification: { received.append($0) })
            listener.start()
            defer { listener.stop() }
            #expect(listener.waitUntilListening(timeout: .seconds(10)))
            #expect(reconnects.load(ordering: .relaxed) == 0)

            let sender = try PostgresConnection(configuration: database.appConfiguration)
            try sender.notify(channel: "token_revoked", payload: "tok_123")
            try sender.query("SELECT pg_notify($1, $2)", ["Mixed Case \"chan\"", "é'; --"])
            try sender.query("SELECT pg_notify($1, $2)", ["not_listened", "ignored"])
            #expect(eventually { received.all.count == 2 })
            #expect(received.all.map(\.channel) == ["token_revoked", "Mixed Case \"chan\""])
            #expect(received.all.map(\.payload) == ["tok_123", "é'; --"])
            #expect(received.all.allSatisfy { $0.senderPID == sender.backendPID })

            // Kill the listener's session: it must reconnect, LISTEN again, and say so.
            let firstPID = try #require(listener.backendPID)
            try terminate([firstPID], database: database)
            #expect(eventually { reconnects.load(ordering: .relaxed) == 1 && listener.isListening })
            #expect(listener.backendPID != firstPID)
            #expect(listener.sessionCount == 2)

            try sender.notify(channel: "token_revoked", payload: "tok_456")
            #expect(eventually { received.all.count == 3 })
            #expect(received.all.last?.payload == "tok_456")
        }
    }

    @Test func stopJoinsPromptlyAndClosesTheSession() throws {
        do {
            let database = try SharedDatabase.connection.get()
            var configuration = database.appConfiguration
            configuration.applicationName = "listener-stop-test"
            let listener = PostgresListener(
                configuration: configuration, channels: ["c"], healthCheckInterval: .seconds(60),
                onNotification: { _ in })
            listener.start()
            #expect(listener.waitUntilListening(timeout: .seconds(10)))
            let clock = ContinuousClock()
            let started = clock.now
            listener.stop()
            #expect(clock.now - started < .seconds(1))
            #expect(!listener.isListening)
            let admin = try PostgresConnection(configuration: database.adminConfiguration)
            let sessions = {
                try? admin.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'listener-stop-test'",
                    [.text(database.name)]
                ).int(row: 0, column: 0)
            }
            #expect(eventually { sessions() == 0 })
        }
    }

    @Test func keepsRetryingWhileTheServerIsUnreachable() throws {
        // Nothing listens on port 1: every attempt fails, the thread backs off, stop() still joins.
        let configuration = try PostgresConfiguration(url: "postgresql://scim@127.0.0.1:1/postgres")
        let listener = PostgresListener(
            configuration: configuration, channels: ["c"], initialBackoff: .milliseconds(10),
            maximumBackoff: .milliseconds(40), onNotification: { _ in })
        listener.start()
        #expect(!listener.waitUntilListening(timeout: .milliseconds(300)))
        #expect(listener.sessionCount == 0)
        listener.stop()
    }
}
