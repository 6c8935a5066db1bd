// libFuzzer target: the JSON decoder. Property: whatever decodes re-encodes to bytes that decode to the same value.
import JSON

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    let limits = JSONLimits(maxDepth: 32, maxStringLength: 4096, maxTotalSize: 1 << 16, maxElementCount: 1024)
    guard let value = try? JSONDecoder.decode(raw, options: .init(limits: limits)) else { return 0 }
    let encoded = value.encoded()
    guard let again = try? JSONDecoder.decode(encoded, options: .init(limits: JSONLimits())) else {
        fatalError("encoder produced undecodable JSON")
    }
    if again != value { fatalError("JSON round trip changed the value") }
    return 0
}
