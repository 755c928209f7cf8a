// Why a SIP message, URI or header value could not be parsed. A struct that can grow: callers
// read `reason` (for a 400 reason phrase or a log line) and, when they must, `kind`.

/// A SIP syntax error.
public struct SIPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The start line is not a request or status line.
        case startLine
        /// A header line is malformed (no colon, bad name, bad folding).
        case headerLine
        /// A header value does not match its grammar.
        case headerValue
        /// A URI does not match its grammar.
        case uri
        /// Content-Length is missing (on a stream), malformed, or disagrees with the body.
        case contentLength
        /// The message ends before its header section does.
        case incomplete
    }

    public var kind: Kind
    /// A short explanation, fit for a reason phrase or a log line.
    public var reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { reason }
}
