#if canImport(Glibc)
import Glibc
#endif
import HTTPCore

/// Who a request comes from, as the key of the per-source brute-force throttle.
///
/// - Behind a load balancer every request arrives from the balancer's address: throttling on it would let one
///   attacker throttle every tenant. With `--trusted-proxies`, a request from a trusted proxy is attributed to the
///   right-most address in `X-Forwarded-For` that is not itself a trusted proxy (the left part of the header is
///   whatever the client sent, so it is never believed). Without trusted proxies the header is ignored.
/// - An IPv6 client usually holds a whole /64: its key is the /64, so rotating addresses inside it does not buy an
///   attacker fresh buckets. IPv4 (and IPv4-mapped IPv6) keys are the address.
struct ClientSource: Sendable, Equatable {
    /// A CIDR block: 4 or 16 address bytes and a prefix length.
    struct Network: Sendable, Equatable {
        let address: [UInt8]
        let prefix: Int

        func contains(_ bytes: [UInt8]) -> Bool {
            guard bytes.count == address.count else { return false }
            var remaining = prefix
            for i in 0..<bytes.count where remaining > 0 {
                let bits = min(8, remaining)
                let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
                if bytes[i] & mask != address[i] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    struct InvalidNetwork: Error, Equatable, CustomStringConvertible {
        let text: String
        var description: String { "not an IP address or CIDR block: \"\(text)\" (expected e.g. 10.0.0.0/8 or fd00::/8)" }
    }

    let trustedProxies: [Network]

    init(trustedProxies: [Network] = []) {
        self.trustedProxies = trustedProxies
    }

    /// Parses a comma-separated list of addresses and CIDR blocks (`10.0.0.0/8, 192.168.1.7, fd00::/8`).
    init(parsing list: String) throws(InvalidNetwork) {
        var networks: [Network] = []
        for item in list.split(separator: ",") {
            let text = String(trimOWS(item))
            guard !text.isEmpty else { continue }
            networks.append(try Self.network(text))
        }
        trustedProxies = networks
    }

    static func network(_ text: String) throws(InvalidNetwork) -> Network {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.address(String(parts[0])) else { throw InvalidNetwork(text: text) }
        let maxPrefix = address.count * 8
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...maxPrefix).contains(p) else { throw InvalidNetwork(text: text) }
            prefix = p
        }
        return Network(address: address, prefix: prefix)
    }

    /// The throttle key of a request that arrived from `peer` with the given `X-Forwarded-For` header.
    func key(peer: String, forwardedFor: String?) -> String {
        // The common case, on every request: no proxies, an IPv4 peer (already in the dotted form `throttleKey` makes).
        if trustedProxies.isEmpty && !peer.utf8.contains(UInt8(ascii: ":")) { return peer }
        guard let peerBytes = Self.address(peer) else { return peer }
        var source = peerBytes
        if !trustedProxies.isEmpty, isTrusted(peerBytes), let forwardedFor {
            // Right to left: skip our own proxies; the first other hop is the client as our proxies saw it.
            for hop in forwardedFor.split(separator: ",").reversed() {
                guard let bytes = Self.address(String(trimOWS(hop))) else { break }
                source = bytes
                if !isTrusted(bytes) { break }
            }
        }
        return Self.throttleKey(source)
    }

    private func isTrusted(_ bytes: [UInt8]) -> Bool {
        trustedProxies.contains { $0.contains(bytes) }
    }

    /// 4 bytes for IPv4 (also for IPv4-mapped IPv6), 16 for IPv6, nil for anything else.
    static func address(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.count < 64 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return Array(bytes[12..<16])
        }
        return bytes
    }

    /// IPv4: the address. IPv6: its /64, e.g. `2001:db8:1:2::/64`.
    static func throttleKey(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }
}
