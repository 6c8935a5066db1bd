#if canImport(Glibc)
import Glibc
#endif
import Flags
import HTTPCore
import JSON
import NetIO
import RegionLink

/// Talks to the admin API.
struct AdminClient {
    let client: HTTPClient
    let host: String
    let token: String

    init(_ options: ParsedOptions) throws {
        var url = options.string("url")
        if url == nil, let port = readFileBytes(".run/admin.port").map({ String(decoding: $0, as: UTF8.self).trimmingWhitespace() }) {
            url = "http://127.0.0.1:\(port)"
        }
        let base = url ?? "http://127.0.0.1:9090"
        guard let (host, port) = HTTPURL.hostAndPort(base) else {
            throw UsageError("--url must be http://host:port (the admin listener; keep it on a private network)")
        }
        var token = options.string("admin-token")
        if token == nil {
            let path = options.string("admin-token-file") ?? ".run/admin-token"
            if let bytes = readFileBytes(path) { token = String(decoding: bytes, as: UTF8.self).trimmingWhitespace() }
        }
        guard let token, !token.isEmpty else {
            throw UsageError("no admin credential: pass --admin-token-file (or SCIMCTL_ADMIN_TOKEN_FILE)")
        }
        self.client = HTTPClient(host: host, port: port)
        self.host = "\(host):\(port)"
        self.token = token
    }

    func call(_ method: HTTPMethod, _ target: String, body: JSONValue? = nil, timeout: Duration = .seconds(30)) throws -> JSONValue? {
        var request = HTTPRequest(method: method, target: target,
                                  headers: ["Authorization": "Bearer \(token)", "Accept": "application/json"])
        if let body {
            request.headers.add("Content-Type", "application/json")
            request.body = body.encoded()
        }
        let response: HTTPResponse
        do {
            response = try client.send(request, timeout: timeout)
        } catch {
            throw ScimctlCommand.CLIError(message: "cannot reach the admin API at \(host): \(error)")
        }
        let json = response.body.isEmpty ? nil : try? JSONDecoder.decode(response.body)
        guard (200...299).contains(response.status.code) else {
            let message = json?["message"]?.string ?? response.bodyText
            throw ScimctlCommand.CLIError(message: "\(response.status.code) \(message)")
        }
        // A 202 with a note is a key rotation that regions have not taken up yet; a move's 202 is its normal answer.
        if response.status.code == 202, let note = json?["note"]?.string {
            writeStandardError("scimctl: accepted but not complete: \(note)\n")
        }
        return json
    }
}
