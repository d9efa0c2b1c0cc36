// What goes wrong reading a run directory for `phalanx report`: always the file, and the
// line when there is one.

/// A run directory the report cannot read: the file (and line) and the fault.
public struct ReportError: Error, CustomStringConvertible, Equatable {
    /// The file or directory at fault.
    public var file: String
    /// Its 1-based line, when the fault is on one.
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, _ message: String) {
        (self.file, self.line, self.message) = (file, line, message)
    }

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}
