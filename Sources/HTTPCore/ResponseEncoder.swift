/// Serialises responses (server side) and requests (client side) to HTTP/1.1 bytes.
public enum HTTPEncoder {
    /// Appends `response` to `out`. Adds `Content-Length` (unless the status forbids a body), `Date` when given,
    /// and `Connection: close` when the connection will close. `headOnly` omits the body (HEAD requests).
    public static func encode(_ response: HTTPResponse, keepAlive: Bool, headOnly: Bool = false,
                              date: String? = nil, into out: inout [UInt8]) {
        let code = response.status.code
        out.reserveCapacity(out.count + 160 + response.headers.count * 40 + response.body.count)
        appendASCII("HTTP/1.1 ", to: &out)
        appendDecimal(code, to: &out)
        out.append(0x20)
        appendASCII(response.status.reason, to: &out)
        appendCRLF(&out)
        let bodyAllowed = !(code < 200 || code == 204 || code == 304)
        for field in response.headers {
            if asciiCaseInsensitiveEquals(field.name, "Content-Length")
                || asciiCaseInsensitiveEquals(field.name, "Connection")
                || asciiCaseInsensitiveEquals(field.name, "Transfer-Encoding") { continue }
            appendHeader(field.name, field.value, to: &out)
        }
        if bodyAllowed {
            appendASCII("Content-Length: ", to: &out)
            appendDecimal(response.body.count, to: &out)
            appendCRLF(&out)
        }
        if let date {
            appendHeader("Date", date, to: &out)
        }
        if !keepAlive {
            appendASCII("Connection: close\r\n", to: &out)
        }
        appendCRLF(&out)
        if bodyAllowed && !headOnly {
            out.append(contentsOf: response.body)
        }
    }

    /// The interim `100 Continue` response.
    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Appends a client request with `Host` and `Content-Length` set.
    public static func encode(_ request: HTTPRequest, host: String, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + 160 + request.headers.count * 40 + request.body.count)
        appendASCII(request.method.description, to: &out)
        out.append(0x20)
        appendASCII(request.target, to: &out)
        appendASCII(" HTTP/1.1\r\n", to: &out)
        var sawHost = false
        for field in request.headers {
            if asciiCaseInsensitiveEquals(field.name, "Content-Length")
                || asciiCaseInsensitiveEquals(field.name, "Transfer-Encoding") { continue }
            if asciiCaseInsensitiveEquals(field.name, "Host") { sawHost = true }
            appendHeader(field.name, field.value, to: &out)
        }
        if !sawHost { appendHeader("Host", host, to: &out) }
        let hasBody = !request.body.isEmpty
            || request.method == .post || request.method == .put || request.method == .patch
        if hasBody {
            appendASCII("Content-Length: ", to: &out)
            appendDecimal(request.body.count, to: &out)
            appendCRLF(&out)
        }
        appendCRLF(&out)
        out.append(contentsOf: request.body)
    }

    @inline(__always)
    static func appendHeader(_ name: String, _ value: String, to out: inout [UInt8]) {
        appendASCII(name, to: &out)
        out.append(0x3A)
        out.append(0x20)
        // Never let a value smuggle a line break into the header section.
        for byte in value.utf8 {
            out.append(byte == 0x0D || byte == 0x0A ? 0x20 : byte)
        }
        appendCRLF(&out)
    }

    @inline(__always)
    static func appendASCII(_ s: String, to out: inout [UInt8]) {
        out.append(contentsOf: s.utf8)
    }

    @inline(__always)
    static func appendCRLF(_ out: inout [UInt8]) {
        out.append(0x0D)
        out.append(0x0A)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value == 0 { out.append(0x30); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = value.magnitude
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while n > 0 {
                raw[count] = UInt8(n % 10) + 0x30
                n /= 10
                count += 1
            }
            if value < 0 { out.append(0x2D) }
            while count > 0 {
                count -= 1
                out.append(raw[count])
            }
        }
    }
}

/// IMF-fixdate (RFC 9110 §5.6.7) for the `Date` header, computed without Foundation.
public enum HTTPDate {
    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Formats seconds since the Unix epoch, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func format(epochSeconds: Int) -> String {
        let (dayCount, secondOfDay) = floorDivMod(epochSeconds, 86_400)
        let (year, month, day) = civil(fromDays: dayCount)
        let weekday = days[floorDivMod(dayCount, 7).1]
        let h = secondOfDay / 3600, m = (secondOfDay % 3600) / 60, s = secondOfDay % 60
        return "\(weekday), \(pad2(day)) \(months[month - 1]) \(year) \(pad2(h)):\(pad2(m)):\(pad2(s)) GMT"
    }

    /// Days since 1970-01-01 → (year, month 1...12, day 1...31). Howard Hinnant's civil_from_days.
    public static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func floorDivMod(_ a: Int, _ b: Int) -> (Int, Int) {
        var q = a / b
        var r = a % b
        if r < 0 { r += b; q -= 1 }
        return (q, r)
    }

    static func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}
