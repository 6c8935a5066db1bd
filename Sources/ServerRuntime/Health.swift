public import HTTPCore
import Telemetry

/// `/healthz`: the process is alive and its event loop answers. Says nothing about dependencies (`/readyz`).
public enum Health {
    public static func alive(service: String, extra: [(String, String)] = []) -> HTTPResponse {
        var body: [UInt8] = Array("{\"status\":\"ok\",\"service\":".utf8)
        JSONText.appendString(service, to: &body)
        for (key, value) in extra {
            body.append(0x2C)
            JSONText.appendString(key, to: &body)
            body.append(0x3A)
            JSONText.appendString(value, to: &body)
        }
        body.append(0x7D)
        return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json", "Cache-Control": "no-store"],
                            body: body)
    }
}
