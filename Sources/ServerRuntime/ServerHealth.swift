public import HTTPCore
import Telemetry

/// `/healthz` and `/readyz` answers.
public enum ServerHealth {
    /// Alive: the process answers. Says nothing about dependencies.
    public static func alive(service: String, extra: [(String, String)] = []) -> HTTPResponse {
        Health.alive(service: service, extra: extra)
    }

    /// Ready: dependencies reachable (200) or not (503), with a short reason.
    public static func ready(_ ok: Bool, detail: String) -> HTTPResponse {
        var body: [UInt8] = Array("{\"status\":\"\(ok ? "ready" : "unavailable")\",\"detail\":".utf8)
        JSONText.appendString(detail, to: &body)
        body.append(0x7D)
        var headers: HTTPHeaders = ["Content-Type": "application/json", "Cache-Control": "no-store"]
        if !ok { headers.add("Retry-After", "5") }
        return HTTPResponse(status: ok ? .ok : .serviceUnavailable, headers: headers, body: body)
    }
}
