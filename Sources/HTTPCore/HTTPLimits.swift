/// Explicit limits the server enforces while reading a request. Each has a documented answer.
public struct HTTPLimits: Sendable, Equatable {
    /// Request line plus header fields, in bytes. Exceeding it answers 431.
    public var maxHeaderBytes: Int = 16 * 1024
    /// The request line alone. Exceeding it answers 414.
    public var maxRequestLineBytes: Int = 8 * 1024
    /// Number of header fields. Exceeding it answers 431.
    public var maxHeaderCount: Int = 100
    /// Request body (after de-chunking). Exceeding it answers 413 before the body is read.
    public var maxBodyBytes: Int = 1 << 20
    /// A chunk-size line including extensions. Exceeding it answers 400.
    public var maxChunkLineBytes: Int = 1024
    /// Trailer section of a chunked body. Exceeding it answers 431.
    public var maxTrailerBytes: Int = 8 * 1024

    public init() {}
    public init(maxBodyBytes: Int) { self.maxBodyBytes = maxBodyBytes }
    public static let `default` = HTTPLimits()
}
