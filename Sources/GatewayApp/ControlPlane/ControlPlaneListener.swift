#if canImport(Glibc)
import Glibc
#endif
import Flags
import HTTPCore
import JSON
import NetIO
import Postgres
import RegionLink
import SCIMCore
import ServerRuntime
import Synchronization
import Telemetry
import Lifecycle

/// Keeps every replica's token cache honest: LISTEN on the control-plane channel, drop what changed, flush
/// everything after a reconnect (notifications may have been missed meanwhile).
final class ControlPlaneListener: Service {
    private let listener: PostgresListener
    var name: String { "control-listener" }

    init(configuration: PostgresConfiguration, authenticator: TokenAuthenticator, logger: Logger) {
        listener = PostgresListener(configuration: configuration, channels: [ControlPlaneSchema.channel],
                                    onReconnect: {
                                        logger.notice("control-plane listener reconnected; token cache flushed")
                                        authenticator.flush()
                                    },
                                    onNotification: { authenticator.invalidate($0.payload) })
    }

    func start() throws {
        listener.start()
        _ = listener.waitUntilListening(timeout: .seconds(5))
    }

    func shutdown(gracePeriod: Duration) { listener.stop() }
}
