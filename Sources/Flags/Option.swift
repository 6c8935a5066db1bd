#if canImport(Glibc)
import Glibc
#endif

/// A command-line option: `--name value`, `--name=value`, or a boolean `--name`. Each may fall back to an
/// environment variable and then a default; `--help` lists them all.
public struct Option: Sendable {
    public enum Kind: Sendable { case value(placeholder: String), boolean }
    public var name: String
    public var kind: Kind
    public var environment: String?
    public var defaultValue: String?
    public var help: String
    /// Values that must not be echoed in `--help` defaults or errors (tokens, passwords).
    public var secret: Bool

    public static func value(_ name: String, _ placeholder: String = "value", env: String? = nil,
                             default defaultValue: String? = nil, secret: Bool = false, help: String) -> Option {
        Option(name: name, kind: .value(placeholder: placeholder), environment: env, defaultValue: defaultValue,
               help: help, secret: secret)
    }

    public static func flag(_ name: String, env: String? = nil, help: String) -> Option {
        Option(name: name, kind: .boolean, environment: env, defaultValue: nil, help: help, secret: false)
    }
}
