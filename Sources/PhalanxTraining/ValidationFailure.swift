// A user's input that a command cannot use (not a config key: a prompt, a source string).

/// A user's input the command cannot use.
public struct ValidationFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
