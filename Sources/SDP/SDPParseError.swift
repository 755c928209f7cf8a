// Why a session description or one of its attribute values could not be parsed (RFC 8866 §9
// grammar). Callers answer 488 or 400 with `description` as the Warning text or reason phrase.

/// An SDP syntax error, with the 1-based line it was found on when there is one.
public struct SDPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The line number in the description, or nil for an error in a lone attribute value.
    public var line: Int?
    /// A short explanation.
    public var reason: String

    public init(line: Int? = nil, _ reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String {
        guard let line else { return reason }
        return "SDP line \(line): \(reason)"
    }
}
