/// Maps (method, path) to a handler. Built once with `add`, then only read (it is a value type: a frozen copy
/// is what the server holds). Patterns are literal segments or `:name` captures, e.g. `/scim/v2/Users/:id`.
public struct Router<Handler: Sendable>: Sendable {
    private enum Segment: Sendable, Equatable {
        case literal(String)
        case capture(String)
    }

    private struct Route: Sendable {
        var method: HTTPMethod
        var segments: [Segment]
        var handler: Handler
    }

    /// Result of a lookup.
    public enum Match: Sendable {
        case found(Handler, parameters: RouteParameters)
        /// The path exists but not for this method; `allowed` lists the methods that do.
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
    }

    private var routes: [Route] = []
    /// Literal segments match case-insensitively when set (SCIM clients vary: `/users`, `/Users`).
    public var caseInsensitiveLiterals: Bool

    public init(caseInsensitiveLiterals: Bool = true) {
        self.caseInsensitiveLiterals = caseInsensitiveLiterals
    }

    public mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: Handler) {
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: true).map { part -> Segment in
            part.hasPrefix(":") ? .capture(String(part.dropFirst())) : .literal(String(part))
        }
        routes.append(Route(method: method, segments: segments, handler: handler))
    }

    /// Finds the handler for `path` (percent-encoded, without query). Captures are percent-decoded.
    /// `HEAD` falls back to a `GET` route.
    public func match(_ method: HTTPMethod, path: Substring) -> Match {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var allowed: [HTTPMethod] = []
        var headFallback: (Handler, RouteParameters)? = nil
        for route in routes {
            guard let params = matchSegments(route.segments, parts) else { continue }
            if route.method == method { return .found(route.handler, parameters: params) }
            if method == .head && route.method == .get { headFallback = (route.handler, params) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        if let (handler, params) = headFallback { return .found(handler, parameters: params) }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    private func matchSegments(_ segments: [Segment], _ parts: [Substring]) -> RouteParameters? {
        guard segments.count == parts.count else { return nil }
        var params = RouteParameters()
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal):
                let equal = caseInsensitiveLiterals ? asciiCaseInsensitiveEquals(literal, part) : literal == part
                if !equal { return nil }
            case .capture(let name):
                guard let decoded = PercentEncoding.decode(part, plusAsSpace: false) else { return nil }
                params.values.append((name, decoded))
            }
        }
        return params
    }
}

/// Values captured from a route pattern.
public struct RouteParameters: Sendable {
    var values: [(String, String)] = []
    public init() {}
    public subscript(name: String) -> String? {
        values.first { $0.0 == name }?.1
    }
}
