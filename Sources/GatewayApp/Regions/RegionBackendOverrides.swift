import ServerRuntime

/// `--region-backends` (and the file `--region-backends-file` names): region backends that replace the region
/// files' lists, e.g. `us=http://10.0.0.5:8081|http://10.0.0.6:8081,eu2=dns+http://region-eu2:8082`. Regions are
/// separated by commas (or whitespace, in a file), a region's replicas by `|`.
enum RegionBackendOverrides {
    static func parse(_ text: String, source: String = "--region-backends") throws(UsageErrorText) -> [String: [RegionBackend]] {
        var result: [String: [RegionBackend]] = [:]
        let entries = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" })
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw UsageErrorText("\(source) expects id=url pairs (several replicas as id=url|url), got '\(entry)'")
            }
            let id = String(parts[0])
            guard result[id] == nil else { throw UsageErrorText("\(source) names region '\(id)' twice") }
            var backends: [RegionBackend] = []
            for url in parts[1].split(separator: "|", omittingEmptySubsequences: false) {
                guard let backend = RegionBackend.parse(String(url)) else {
                    throw UsageErrorText("\(source): '\(url)' for region '\(id)' must be \(RegionBackend.syntax)")
                }
                guard !backends.contains(backend) else { throw UsageErrorText("\(source) lists \(backend) twice for region '\(id)'") }
                backends.append(backend)
            }
            result[id] = backends
        }
        return result
    }
}
