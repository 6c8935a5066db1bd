import Crypto
import HTTPCore
import JSON
import RegionLink

/// Reads a tenant's request log from its home region (the log holds PII and lives only there) for the live
/// connection check and the console.
struct RequestLogClient: Sendable {
    enum Failure: Error, Sendable { case unavailable }

    let regions: RegionInternalClient

    /// The latest records, newest first.
    func recent(tenant: String, on route: RegionRoute, limit: Int) -> Result<[ObservedRequest], Failure> {
        let response: HTTPResponse
        do {
            response = try regions.send(.get, "/internal/v1/tenants/\(tenant)/request-log?limit=\(limit)&bodies=false", tenant: tenant,
                                        body: [], on: route, requestID: "web-" + Base62.random(12), key: nil)
        } catch {
            return .failure(.unavailable)
        }
        guard response.status.code == 200, let doc = try? JSONDecoder.decode(response.body) else { return .failure(.unavailable) }
        return .success(Self.records(doc))
    }

    /// Records of a request-log page (`records`), tolerant of fields that are absent.
    static func records(_ doc: JSONValue) -> [ObservedRequest] {
        (doc["records"]?.array ?? []).map { r in
            ObservedRequest(at: r["at"]?.string ?? "", method: r["method"]?.string ?? "", route: r["route"]?.string ?? "",
                            status: r["status"]?.int ?? 0, outcome: r["outcome"]?.string, scimType: r["scimType"]?.string,
                            detail: r["detail"]?.string, idp: r["idp"]?.string,
                            subject: r["userName"]?.string ?? r["displayName"]?.string ?? r["externalId"]?.string)
        }
    }
}

extension RequestLogClient {
    /// A page of the request log with the console's filters (`query` is already encoded).
    func page(tenant: String, on route: RegionRoute, query: String) -> Result<[ObservedRequest], Failure> {
        let response: HTTPResponse
        do {
            response = try regions.send(.get, "/internal/v1/tenants/\(tenant)/request-log?\(query)", tenant: tenant,
                                        body: [], on: route, requestID: "console-" + Base62.random(12), key: nil)
        } catch {
            return .failure(.unavailable)
        }
        guard response.status.code == 200, let doc = try? JSONDecoder.decode(response.body) else { return .failure(.unavailable) }
        return .success(Self.records(doc))
    }
}
