public import HTTPCore
public import Telemetry
import Crypto

/// Request ids: the caller's when it sent a short, plain one (so an IdP's or a load balancer's id can be followed
/// through every log), else a fresh one. Echoed in `X-Request-Id` and signed into the region hop.
public enum RequestID {
    public static func accept(_ header: String?) -> String {
        if let h = header, (1...64).contains(h.utf8.count), h.utf8.allSatisfy(isPlain) { return h }
        return UniqueID.next()
    }

    static func isPlain(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F || b == 0x2E
    }
}
