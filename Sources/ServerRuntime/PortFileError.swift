#if canImport(Glibc)
import Glibc
#endif

/// Writes the bound port to a file atomically (write to a temporary name, then rename), so a script polling
/// for the file never reads a half-written number.
public func writePortFile(_ path: String, port: Int) throws {
    let temporary = path + ".tmp"
    let text = "\(port)\n"
    guard let file = fopen(temporary, "w") else { throw PortFileError(path: path) }
    fputs(text, file)
    fclose(file)
    guard rename(temporary, path) == 0 else { throw PortFileError(path: path) }
}

public struct PortFileError: Error, CustomStringConvertible {
    public var path: String
    public var description: String { "cannot write port file \(path)" }
}
