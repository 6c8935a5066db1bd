import COpenSSL
import Synchronization

/// CRC-32 (IEEE 802.3), for token checksums that reject typos without a database lookup.
public enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt32 {
        // Contiguous input (arrays, slices, native strings' UTF-8) takes the buffer loop; a generic iterator across
        // module boundaries costs several times more per byte.
        if let crc = bytes.withContiguousStorageIfAvailable({ checksum(buffer: $0) }) { return crc }
        return Array(bytes).withUnsafeBufferPointer { checksum(buffer: $0) }
    }

    public static func checksum(buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in buffer { crc = t[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
