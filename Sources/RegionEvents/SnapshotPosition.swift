import RegionSCIM

/// Where a page of a reconciliation snapshot starts: the snapshot lists users (by id), then groups (by id), then
/// memberships (by group id, member id), and a page may span sections. Wire form: `u<id>`, `g<id>`, `m<group><member>`.
enum SnapshotPosition: Sendable, Equatable {
    case users(after: String?)
    case groups(after: String?)
    case memberships(group: String, member: String)

    static let start = SnapshotPosition.users(after: nil)

    init?(text: String) {
        guard let first = text.first else { return nil }
        let rest = String(text.dropFirst())
        switch first {
        case "u", "g":
            var id: String? = nil
            if !rest.isEmpty {
                guard let canonical = UUIDText.canonical(rest) else { return nil }
                id = canonical
            }
            self = first == "u" ? .users(after: id) : .groups(after: id)
        case "m":
            guard rest.utf8.count == 72, let g = UUIDText.canonical(rest.prefix(36)), let m = UUIDText.canonical(rest.dropFirst(36)) else {
                return nil
            }
            self = .memberships(group: g, member: m)
        default:
            return nil
        }
    }

    var text: String {
        switch self {
        case .users(let after): return "u" + (after ?? "")
        case .groups(let after): return "g" + (after ?? "")
        case .memberships(let group, let member): return "m" + group + member
        }
    }
}
