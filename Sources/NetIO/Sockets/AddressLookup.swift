#if canImport(Glibc)
import Glibc
#endif

/// Every address a host name resolves to (A and AAAA records, or the name itself when it is an IP literal), as
/// numeric text, deduplicated, in resolver order. Blocks on the resolver: call it from a background thread (the
/// gateway's regions watcher), never from a request path.
public enum AddressLookup {
    public static func addresses(of host: String) throws(IOError) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(host, nil, &hints, &result)
        guard rc == 0, let first = result else { throw IOError("getaddrinfo", errno: EHOSTUNREACH) }
        defer { freeaddrinfo(result) }
        var found: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                let address = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !found.contains(address) { found.append(address) }
            }
            cursor = entry.pointee.ai_next
        }
        return found
    }
}
