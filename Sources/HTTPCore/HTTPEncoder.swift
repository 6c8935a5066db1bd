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
