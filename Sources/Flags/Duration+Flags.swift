/// Durations as options spell them.
extension Duration {
    /// `500ms`, `5s`, `15m`, `1h`, `14d`, or plain seconds; nil for anything else (negative values included).
    public static func parse(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, millis) in units where text.hasSuffix(suffix) {
            // "ms" ends in "s" too: a unit only counts when what is left is a number.
            guard let n = Int64(text.dropLast(suffix.count)), n >= 0, n <= Int64.max / millis / 1_000_000 else { continue }
            return .milliseconds(n * millis)
        }
        guard let n = Int64(text), n >= 0, n <= Int64.max / 1_000_000_000 else { return nil }
        return .seconds(n)
    }

    /// The shortest of `Nms`, `Ns`, `Nm`, `Nh`, `Nd` that says this duration exactly (for messages and help).
    public var flagText: String {
        let millis = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        for (suffix, unit) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where millis % unit == 0 && millis != 0 {
            return "\(millis / unit)\(suffix)"
        }
        return "\(millis)ms"
    }
}
