import Postgres
import TestSupport
import Testing

/// How a pipeline reports a server that goes away under it (found by the reliability FaultTests: during a
/// PostgreSQL restart a region answered 500 instead of 503, because this surfaced as a protocol violation).
@Suite struct PipelineFailureTests {
    @Test(arguments: [0, 1, 4])
    func aBackendTerminatedMidPipelineIsATransientError(statementsAfter: Int) throws {
        let database = try SharedDatabase.connection.get()
        let connection = try PostgresConnection(configuration: database.appConfiguration)
        // The backend terminates itself (as a restart's fast shutdown would) in the middle of the pipeline.
        let statements = [PostgresStatement.sql("SELECT 1"), .sql("SELECT pg_terminate_backend(pg_backend_pid())")]
            + Array(repeating: PostgresStatement.sql("SELECT 2"), count: statementsAfter)
        do {
            _ = try connection.pipeline(statements)
            Issue.record("the pipeline survived its backend")
        } catch {
            #expect(error.isTransient, "\(error)")
            #expect(error.kind != .protocolViolation, "\(error)")
        }
    }
}
