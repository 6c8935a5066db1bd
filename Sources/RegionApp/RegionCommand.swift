import Flags
import HTTPCore
import NetIO
import ServerRuntime
import Telemetry

/// `scim-region`: the SCIM service provider for one region.
public enum RegionCommand {
    static let spec = CommandLineSpec(
        command: "scim-region",
        summary: "SCIM 2.0 service provider for one region, on its own PostgreSQL database",
        usage: "scim-region --region <id> [options]",
        options: [
            .value("region", "id", env: "SCIM_REGION", help: "Region to serve (a file Regions/<id>.json)"),
        ] + ServerOptions.common(envPrefix: "SCIM_REGION_", defaultListen: "127.0.0.1:8081", defaultWorkers: 16))

    public static func main() -> Int32 {
        ServiceRunner.prepareProcess()
        let options = spec.parseOrExit()
        let config: HTTPServerConfiguration
        let level: Logger.Level
        let region: String
        do {
            region = try options.required("region")
            config = try ServerOptions.serverConfiguration(name: "region-\(region)", options)
            level = try ServerOptions.logLevel(options)
        } catch {
            spec.exitWithUsageError(error)
        }
        let logger = Logger(label: "scim-region", level: level).with("region", .string(region))
        let server = HTTPServer(configuration: config, responder: RegionResponder(region: region), logger: logger)
        let portFile = options.string("port-file")
        let announcer = PortAnnouncer(server: server, path: portFile)
        return ServiceRunner.run([server, announcer], logger: logger)
    }
}

struct RegionResponder: HTTPResponder {
    let region: String
    func respond(to request: HTTPRequest, context: RequestContext) -> HTTPResponse {
        switch request.path {
        case "/healthz":
            return Health.alive(service: "scim-region", extra: [("region", region)])
        default:
            return HTTPResponse(status: .notFound, contentType: "application/json", body: "{\"status\":\"404\"}")
        }
    }
}
