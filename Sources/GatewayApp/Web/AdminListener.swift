import HTTPCore
import ServerRuntime
import Telemetry

/// What answers on the admin listener: the operator console's pages under `/console`, the admin API for the rest.
final class AdminListener: HTTPResponder {
    let admin: AdminAPI
    let console: OperatorConsole
    let logger: Logger

    init(admin: AdminAPI, console: OperatorConsole, logger: Logger) {
        self.admin = admin
        self.console = console
        self.logger = logger
    }

    func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        guard console.handles(request.path) else { return admin.respond(to: request, context: context) }
        var record = RequestRecord(requestID: RequestID.accept(request.headers["X-Request-Id"]), method: request.method, route: "/console")
        var response = console.respond(to: request, context: context, record: &record)
        response.headers.set("X-Request-Id", record.requestID)
        record.finish(status: response.status.code)
        record.log(logger, message: "console request")
        return response
    }
}
