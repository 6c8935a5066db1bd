/// Maps (method, path) to a handler. Built once with `add`, then only read (it is a value type: a frozen copy
/// is what the server holds). Patterns are literal segments or `:name` captures, e.g. `/scim/v2/Users/:id`.
/// A match names the pattern it matched (`template`): that, never the raw path, is what logs and metrics record,
/// so ids and names stay out of them and clients cannot invent metric series.
public struct Router<Handler: Sendable>: Sendable {
    private enum Segment: Sendable, Equatable {
        case literal(String)
        case capture(String)
    }

    private struct Route: Sendable {
        var method: HTTPMethod
        var segments: [Segment]
        var handler: Handler
        var template: String
    }

    /// Result of a lookup.
    public enum Match: Sendable {
        case found(Handler, parameters: RouteParameters, template: String)
        /// The path exists but not for this method; `allowed` lists the methods that do.
        case methodNotAllowed(allowed: [HTTPMethod], template: String)
        case notFound

        /// The matched pattern, or nil when nothing matched.
        public var template: String? {
            switch self {
            case .found(_, _, let t), .methodNotAllowed(_, let t): t
            case .notFound: nil
            }
        }
    }

    private var routes: [Route] = []
    /// Route indexes by segment count: a request only compares against patterns of its own length.
    private var bySegmentCount: [Int: [Int]] = [:]
    /// Literal segments match case-insensitively when set (SCIM clients vary: `/users`, `/Users`).
    public var caseInsensitiveLiterals: Bool

    public init(caseInsensitiveLiterals: Bool = true) {
        self.caseInsensitiveLiterals = caseInsensitiveLiterals
    }

    public mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: Handler) {
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: true).map { part -> Segment in
            part.hasPrefix(":") ? .capture(String(part.dropFirst())) : .literal(String(part))
        }
        let template = "/" + segments.map { segment -> String in
            switch segment {
            case .literal(let l): l
            case .capture(let c): ":" + c
            }
        }.joined(separator: "/")
        routes.append(Route(method: method, segments: segments, handler: handler, template: template))
        bySegmentCount[segments.count, default: []].append(routes.count - 1)
    }

    /// Finds the handler for `path` (percent-encoded, without query). Captures are percent-decoded.
    /// `HEAD` falls back to a `GET` route.
    public func match(_ method: HTTPMethod, path: Substring) -> Match {
        let parts = Self.segments(path)
        guard let candidates = bySegmentCount[parts.count] else { return .notFound }
        var allowed: [HTTPMethod] = []
        var allowedTemplate = ""
        var headFallback: Int? = nil
        for index in candidates {
            let route = routes[index]
            guard literalsMatch(route.segments, parts) else { continue }
            if route.method == method {
                if let params = captures(route.segments, parts) {
                    return .found(route.handler, parameters: params, template: route.template)
                }
                continue
            }
            if method == .head && route.method == .get { headFallback = index }
            if allowed.isEmpty { allowedTemplate = route.template }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        if let index = headFallback, let params = captures(routes[index].segments, parts) {
            return .found(routes[index].handler, parameters: params, template: routes[index].template)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed, template: allowedTemplate)
    }

    /// Splits on `/` by bytes (Character-based splitting is slow), skipping empty segments.
    public static func segments(_ path: Substring) -> [Substring] {
        var parts: [Substring] = []
        let utf8 = path.utf8
        var start = utf8.startIndex
        var i = start
        while i != utf8.endIndex {
            if utf8[i] == 0x2F {
                if start != i { parts.append(path[start..<i]) }
                start = utf8.index(after: i)
            }
            i = utf8.index(after: i)
        }
        if start != utf8.endIndex { parts.append(path[start..<utf8.endIndex]) }
        return parts
    }

    private func literalsMatch(_ segments: [Segment], _ parts: [Substring]) -> Bool {
        for i in segments.indices {
            if case .literal(let literal) = segments[i] {
                let equal = caseInsensitiveLiterals ? asciiCaseInsensitiveEquals(literal, parts[i]) : literal == parts[i]
                if !equal { return false }
            }
        }
        return true
    }

    /// The decoded captures, or nil when one does not decode to valid UTF-8.
    private func captures(_ segments: [Segment], _ parts: [Substring]) -> RouteParameters? {
        var params = RouteParameters()
        for i in segments.indices {
            if case .capture(let name) = segments[i] {
                guard let decoded = PercentEncoding.decode(parts[i], plusAsSpace: false) else { return nil }
                params.values.append((name, decoded))
            }
        }
        return params
    }
}
