/// Values captured from a route pattern.
public struct RouteParameters: Sendable {
    var values: [(String, String)] = []
    public init() {}
    public subscript(name: String) -> String? {
        values.first { $0.0 == name }?.1
    }
}
