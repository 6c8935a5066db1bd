#if canImport(Glibc)
import Glibc
#endif
import JSON
import Flags

/// One region, as described by `Regions/<id>.json`. Adding a region is adding a file (and a database), not code.
///
/// ```json
/// {
///   "id": "eu2",
///   "displayName": "Europe (Frankfurt)",
///   "publicBaseURL": "https://eu2-api.example.com/scim/v2",
///   "publicHosts": ["eu2-api.example.com"],
///   "backendURL": "http://127.0.0.1:8082",
///   "backendURLs": ["http://127.0.0.1:8084", "dns+http://region-eu2.internal:8082"],
///   "listen": "127.0.0.1:8082",
///   "database": { "url": "postgresql://scim@127.0.0.1:5432/scim_eu2", "urlEnv": "SCIM_EU2_DATABASE_URL", "maxConnections": 16 }
/// }
/// ```
/// Secrets never live here: the database URL carries no password (use `urlEnv` or a libpq service/pgpass file).
public struct RegionConfiguration: Sendable, Equatable {
    /// Lowercase letters and digits, 1-16 characters (e.g. `us`, `eu2`, `ap1`). Must match the file name.
    public var id: String
    public var displayName: String
    /// The SCIM base URL IdPs use for tenants homed here (`Location` and `meta.location` are built from it).
    public var publicBaseURL: String
    /// Host names (with optional port) that belong to this region; a request on one of them for a tenant of
    /// another region is answered 421 with the right base URL.
    public var publicHosts: [String]
    /// Where the gateway reaches this region's replicas: `backendURL` and every `backendURLs` entry, in order
    /// (at least one; see `RegionBackend`). The gateway re-reads the file while running, so replicas come and go
    /// without a restart.
    public var backends: [RegionBackend]
    /// The first backend, as a URL (what a single-replica region file says).
    public var backendURL: String { backends.first?.description ?? "" }
    /// Where the region process listens.
    public var listen: String
    public var databaseURL: String
    /// Environment variable that overrides `databaseURL` when set.
    public var databaseURLEnv: String?
    public var databaseMaxConnections: Int
    /// The file it came from (for error messages).
    public var source: String

    /// Parses one region file; errors name the file and the field.
    public static func parse(_ bytes: [UInt8], source: String) throws(RegionConfigurationError) -> RegionConfiguration {
        let json: JSONValue
        do {
            json = try JSONDecoder.decode(bytes)
        } catch {
            throw RegionConfigurationError(file: source, field: nil, message: "not valid JSON: \(error)")
        }
        guard case .object(let o) = json else {
            throw RegionConfigurationError(file: source, field: nil, message: "must be a JSON object")
        }
        func string(_ field: String, required: Bool = true) throws(RegionConfigurationError) -> String? {
            guard let v = o[field] else {
                if required { throw RegionConfigurationError(file: source, field: field, message: "is required") }
                return nil
            }
            guard let s = v.string, !s.isEmpty else {
                throw RegionConfigurationError(file: source, field: field, message: "must be a non-empty string")
            }
            return s
        }
        let id = try string("id")!
        guard id.utf8.count <= 16, id.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }) else {
            throw RegionConfigurationError(file: source, field: "id", message: "must be 1-16 lowercase letters or digits")
        }
        let base = try string("publicBaseURL")!
        guard base.hasPrefix("https://") || base.hasPrefix("http://") else {
            throw RegionConfigurationError(file: source, field: "publicBaseURL", message: "must start with https:// or http://")
        }
        var hosts: [String] = []
        if let v = o["publicHosts"] {
            guard let list = v.array, list.allSatisfy({ ($0.string ?? "").isEmpty == false }) else {
                throw RegionConfigurationError(file: source, field: "publicHosts", message: "must be an array of host names")
            }
            hosts = list.compactMap { $0.string?.lowercased() }
        }
        var backends: [RegionBackend] = []
        if let url = try string("backendURL", required: false) {
            guard let backend = RegionBackend.parse(url) else {
                throw RegionConfigurationError(file: source, field: "backendURL", message: "must be \(RegionBackend.syntax)")
            }
            backends.append(backend)
        }
        if let v = o["backendURLs"] {
            guard let list = v.array, !list.isEmpty, list.allSatisfy({ $0.string != nil }) else {
                throw RegionConfigurationError(file: source, field: "backendURLs", message: "must be a non-empty array of URLs")
            }
            var listed: [RegionBackend] = []
            for item in list {
                guard let backend = RegionBackend.parse(item.string!) else {
                    throw RegionConfigurationError(file: source, field: "backendURLs",
                                                   message: "entry '\(item.string!)' must be \(RegionBackend.syntax)")
                }
                guard !listed.contains(backend) else {
                    throw RegionConfigurationError(file: source, field: "backendURLs", message: "lists \(backend) twice")
                }
                listed.append(backend)
                // `backendURL` may appear again in the full list (a file written for gateways that read only
                // `backendURL` and for those that read both): it is one replica.
                if !backends.contains(backend) { backends.append(backend) }
            }
        }
        guard !backends.isEmpty else {
            throw RegionConfigurationError(file: source, field: "backendURL", message: "is required (or backendURLs)")
        }
        let listen = try string("listen")!
        guard case .object(let db)? = o["database"] else {
            throw RegionConfigurationError(file: source, field: "database", message: "is required (an object with url)")
        }
        guard let url = db["url"]?.string, url.hasPrefix("postgres") else {
            throw RegionConfigurationError(file: source, field: "database.url", message: "must be a postgresql:// URL")
        }
        var maxConnections = 16
        if let v = db["maxConnections"] {
            guard let n = v.int, (1...1000).contains(n) else {
                throw RegionConfigurationError(file: source, field: "database.maxConnections", message: "must be an integer 1-1000")
            }
            maxConnections = n
        }
        var urlEnv: String? = nil
        if let v = db["urlEnv"] {
            guard let s = v.string, !s.isEmpty else {
                throw RegionConfigurationError(file: source, field: "database.urlEnv", message: "must be an environment variable name")
            }
            urlEnv = s
        }
        return RegionConfiguration(id: id, displayName: (try string("displayName", required: false)) ?? id,
                                   publicBaseURL: base.hasSuffix("/") ? String(base.dropLast()) : base,
                                   publicHosts: hosts, backends: backends, listen: listen,
                                   databaseURL: url, databaseURLEnv: urlEnv, databaseMaxConnections: maxConnections,
                                   source: source)
    }

    /// Loads every `*.json` in `directory`, checking each file name matches its id and ids are unique.
    public static func loadAll(directory: String) throws(RegionConfigurationError) -> [RegionConfiguration] {
        guard let dir = opendir(directory) else {
            throw RegionConfigurationError(file: directory, field: nil, message: "cannot open the regions directory")
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".json") && !name.hasPrefix(".") { names.append(name) }
        }
        closedir(dir)
        var regions: [RegionConfiguration] = []
        for name in names.sorted() {
            let path = directory + "/" + name
            guard let bytes = readFileBytes(path) else {
                throw RegionConfigurationError(file: path, field: nil, message: "cannot read the file")
            }
            let region = try parse(bytes, source: path)
            guard name == region.id + ".json" else {
                throw RegionConfigurationError(file: path, field: "id", message: "'\(region.id)' does not match the file name")
            }
            regions.append(region)
        }
        if regions.isEmpty {
            throw RegionConfigurationError(file: directory, field: nil, message: "no region files (*.json)")
        }
        return regions
    }

    /// Loads `directory/<id>.json`.
    public static func load(directory: String, id: String) throws(RegionConfigurationError) -> RegionConfiguration {
        let path = directory + "/" + id + ".json"
        guard let bytes = readFileBytes(path) else {
            throw RegionConfigurationError(file: path, field: nil, message: "no such region file")
        }
        let region = try parse(bytes, source: path)
        guard region.id == id else {
            throw RegionConfigurationError(file: path, field: "id", message: "'\(region.id)' does not match the file name")
        }
        return region
    }
}
