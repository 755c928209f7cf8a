// What the loader says about a configuration: each problem with the file, line and key it
// concerns, printed as `file:line: key: what is wrong`.

/// One problem (or warning) found in a configuration file.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    /// The file the problem is in, as the loader was given it.
    public var file: String
    /// The 1-based line, or 0 when the problem concerns the file as a whole.
    public var line: Int
    /// The dotted key path, e.g. `trunks[0].transport`; empty for file-level problems.
    public var key: String
    public var message: String
    public var severity: Severity

    public init(file: String, line: Int, key: String, message: String, severity: Severity = .error) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
        self.severity = severity
    }

    /// `file:line: key: message`, with `warning: ` before the message for warnings.
    public var description: String {
        var text = line > 0 ? "\(file):\(line): " : "\(file): "
        if !key.isEmpty { text += "\(key): " }
        if severity == .warning { text += "warning: " }
        return text + message
    }
}

/// Thrown when a configuration has one or more errors. Carries every problem found, so an
/// operator fixes them in one pass.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var errors: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .error } }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

/// Collects diagnostics while a configuration is read and checked.
final class DiagnosticLog {
    private(set) var entries: [ConfigDiagnostic] = []

    var hasErrors: Bool { entries.contains { $0.severity == .error } }

    func error(_ file: String, _ line: Int, _ key: String, _ message: String) {
        entries.append(ConfigDiagnostic(file: file, line: line, key: key, message: message))
    }

    func warning(_ file: String, _ line: Int, _ key: String, _ message: String) {
        entries.append(ConfigDiagnostic(file: file, line: line, key: key, message: message, severity: .warning))
    }

    func error(at location: SourceLocation, _ message: String) {
        error(location.file, location.line, location.key, message)
    }

    func warning(at location: SourceLocation, _ message: String) {
        warning(location.file, location.line, location.key, message)
    }
}

/// Where a value came from: the file, the line, and its key path.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var key: String

    public init(file: String, line: Int, key: String) {
        self.file = file
        self.line = line
        self.key = key
    }

    public var description: String { "\(file):\(line)" }
}
