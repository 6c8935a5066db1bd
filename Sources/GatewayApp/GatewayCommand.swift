import Flags
import HTTPCore
import NetIO
import ServerRuntime
import Telemetry

/// `scim-gateway`: what every IdP talks to.
public enum GatewayCommand {
    static let spec = CommandLineSpec(
        command: "scim-gateway",
        summary: "SCIM 2.0 gateway: resolves the tenant from the bearer token and routes to its home region",
        options: ServerOptions.common(envPrefix: "SCIM_GATEWAY_", defaultListen: "127.0.0.1:8080", defaultWorkers: 32))

    public static func main() -> Int32 {
        ServiceRunner.prepareProcess()
        let options = spec.parseOrExit()
        let config: HTTPServerConfiguration
        let level: Logger.Level
        do {
            config = try ServerOptions.serverConfiguration(name: "gateway", options)
            level = try ServerOptions.logLevel(options)
        } catch {
            spec.exitWithUsageError(error)
        }
        let logger = Logger(label: "scim-gateway", level: level)
        let server = HTTPServer(configuration: config, responder: GatewayResponder(), logger: logger)
        let announcer = PortAnnouncer(server: server, path: options.string("port-file"))
        return ServiceRunner.run([server, announcer], logger: logger)
    }
}

struct GatewayResponder: HTTPResponder {
    func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        switch request.path {
        case "/healthz":
            return Health.alive(service: "scim-gateway")
        default:
            return HTTPResponse(status: .notFound, contentType: "application/json", body: "{\"status\":\"404\"}")
        }
    }
}
