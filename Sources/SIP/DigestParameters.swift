// The auth-param list shared by WWW-Authenticate, Proxy-Authenticate, Authorization and
// Proxy-Authorization values (RFC 3261 §25.1 `challenge` and `credentials`, RFC 7235 §2.1): the
// `Digest` scheme token, comma-separated `name = value` pairs with optional linear whitespace,
// values as tokens or quoted-strings with backslash escapes. Also the parse error both header
// types throw, and the quoting used when serializing.

/// Why a Digest challenge or credentials value could not be read.
public struct DigestParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The value does not start with the `Digest` scheme (for example `Basic`).
        case notDigestScheme
        /// The text breaks the auth-param grammar.
        case malformed
        /// A parameter the header type requires is absent.
        case missingParameter
        /// A parameter appears twice.
        case duplicateParameter
        /// A parameter has a value this implementation cannot use (an unknown algorithm, a bad nc).
        case invalidValue
    }

    public var kind: Kind
    /// The parameter concerned, lowercased, when there is one.
    public var parameter: String?
    public var description: String

    init(_ kind: Kind, parameter: String? = nil, _ description: String) {
        self.kind = kind
        self.parameter = parameter
        self.description = description
    }
}

/// One auth-param a challenge or credentials carries that this implementation does not interpret;
/// kept so that serializing what was parsed loses nothing.
public struct DigestAuthParameter: Sendable, Hashable {
    /// The parameter name, lowercased.
    public var name: String
    /// The value, unquoted and unescaped.
    public var value: String

    public init(name: String, value: String) {
        self.name = name.lowercased()
        self.value = value
    }
}

/// A parsed auth-param list: names lowercased, values unescaped, in wire order.
struct DigestParameterList {
    struct Entry {
        var name: String
        var value: String
        var wasQuoted: Bool
    }

    private(set) var entries: [Entry] = []

    /// Reads `Digest <auth-param> *(, <auth-param>)` from a header value.
    init(parsing value: String) throws(DigestParseError) {
        var scanner = Scanner(bytes: Array(value.utf8))
        scanner.skipWhitespace()
        let scheme = scanner.readToken()
        guard !scheme.isEmpty else { throw DigestParseError(.malformed, "the value has no authentication scheme") }
        guard String(decoding: scheme, as: UTF8.self).lowercased() == "digest" else {
            throw DigestParseError(.notDigestScheme, "the scheme is not Digest")
        }
        guard scanner.skipWhitespace() else {
            throw DigestParseError(.malformed, "the Digest scheme is not followed by parameters")
        }
        var seen = Set<String>()
        while true {
            scanner.skipWhitespace()
            // Empty list elements (`a=1,,b=2`) are tolerated, as in RFC 7230 §7.
            if scanner.consume(UInt8(ascii: ",")) { continue }
            if scanner.atEnd { break }
            let nameBytes = scanner.readToken()
            guard !nameBytes.isEmpty else {
                throw DigestParseError(.malformed, "expected a parameter name at offset \(scanner.offset)")
            }
            let name = String(decoding: nameBytes, as: UTF8.self).lowercased()
            scanner.skipWhitespace()
            guard scanner.consume(UInt8(ascii: "=")) else {
                throw DigestParseError(.malformed, parameter: name, "expected '=' after \(name)")
            }
            scanner.skipWhitespace()
            let entry: Entry
            if scanner.peek == UInt8(ascii: "\"") {
                guard let text = scanner.readQuotedString() else {
                    throw DigestParseError(.malformed, parameter: name, "the quoted value of \(name) is not terminated")
                }
                entry = Entry(name: name, value: String(decoding: text, as: UTF8.self), wasQuoted: true)
            } else {
                let token = scanner.readToken()
                guard !token.isEmpty else {
                    throw DigestParseError(.malformed, parameter: name, "\(name) has no value")
                }
                entry = Entry(name: name, value: String(decoding: token, as: UTF8.self), wasQuoted: false)
            }
            guard seen.insert(name).inserted else {
                throw DigestParseError(.duplicateParameter, parameter: name, "\(name) appears more than once")
            }
            entries.append(entry)
            scanner.skipWhitespace()
            if scanner.atEnd { break }
            guard scanner.consume(UInt8(ascii: ",")) else {
                throw DigestParseError(.malformed, parameter: name, "expected ',' after the value of \(name)")
            }
        }
        guard !entries.isEmpty else { throw DigestParseError(.malformed, "the Digest scheme has no parameters") }
    }

    /// The value of `name`, if present.
    func value(_ name: String) -> String? { entries.first { $0.name == name }?.value }

    /// The value of `name`, or a `missingParameter` error.
    func required(_ name: String) throws(DigestParseError) -> String {
        guard let v = value(name) else { throw DigestParseError(.missingParameter, parameter: name, "\(name) is missing") }
        return v
    }

    /// The algorithm parameter; MD5 when absent (RFC 7616 §3.3).
    func algorithm() throws(DigestParseError) -> DigestAlgorithm {
        guard let text = value("algorithm") else { return .md5 }
        guard let algorithm = DigestAlgorithm(token: text) else {
            throw DigestParseError(.invalidValue, parameter: "algorithm", "algorithm \(text) is not supported")
        }
        return algorithm
    }

    /// The entries whose names are not in `known`, as extension parameters.
    func others(excluding known: Set<String>) -> [DigestAuthParameter] {
        entries.filter { !known.contains($0.name) }.map { DigestAuthParameter(name: $0.name, value: $0.value) }
    }
}

/// Builds `Digest name="value", name=token, ...`.
struct DigestParameterWriter {
    private(set) var text = "Digest "
    private var first = true

    mutating func quoted(_ name: String, _ value: String) {
        separator()
        text += name
        text += "=\""
        for scalar in value.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { text += "\\" }
            text.unicodeScalars.append(scalar)
        }
        text += "\""
    }

    /// Writes `value` bare when it is a non-empty token, quoted otherwise.
    mutating func token(_ name: String, _ value: String) {
        guard !value.isEmpty, value.utf8.allSatisfy(Scanner.isTokenCharacter) else {
            quoted(name, value)
            return
        }
        separator()
        text += name
        text += "="
        text += value
    }

    private mutating func separator() {
        if !first { text += ", " }
        first = false
    }
}

/// A byte cursor over a header value.
private struct Scanner {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[offset] }

    /// Skips spaces, tabs and line folds (CRLF followed by whitespace, RFC 3261 §25.1 LWS); a bare
    /// CR or LF also counts, as a header value handed here has already been unfolded or not.
    /// Returns whether anything was skipped.
    @discardableResult
    mutating func skipWhitespace() -> Bool {
        let start = offset
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0d || c == 0x0a { offset += 1 }
        return offset > start
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        offset += 1
        return true
    }

    /// RFC 3261 §25.1 token characters.
    static func isTokenCharacter(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "!"),
            UInt8(ascii: "%"), UInt8(ascii: "*"), UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "`"),
            UInt8(ascii: "'"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    mutating func readToken() -> ArraySlice<UInt8> {
        let start = offset
        while let c = peek, Self.isTokenCharacter(c) { offset += 1 }
        return bytes[start..<offset]
    }

    /// Reads a quoted-string starting at `"`, resolving `\x` quoted-pairs; nil if unterminated or
    /// if a CR or LF is escaped.
    mutating func readQuotedString() -> [UInt8]? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        var out: [UInt8] = []
        while let c = peek {
            offset += 1
            switch c {
            case UInt8(ascii: "\""):
                return out
            case UInt8(ascii: "\\"):
                guard let escaped = peek, escaped != 0x0d, escaped != 0x0a else { return nil }
                offset += 1
                out.append(escaped)
            default:
                out.append(c)
            }
        }
        return nil
    }
}
