// Typed values of the headers transactions and dialogs depend on: Via (RFC 3261 §20.42, with
// RFC 3581 rport), CSeq (§20.16), and name-addr/addr-spec with parameters for From, To, Contact,
// Route and Record-Route (§20.10, §25.1).

/// One Via element.
public struct SIPVia: Sendable, Hashable, CustomStringConvertible {
    /// The transport token, upper-cased (`UDP`, `TCP`, `TLS`, `WS`, `WSS`, …).
    public var transport: String
    public var host: String
    public var port: Int?
    public var parameters: SIPParameters

    /// The RFC 3261 magic cookie that marks a branch as globally unique.
    public static let magicCookie = "z9hG4bK"

    public init(transport: String, host: String, port: Int?, branch: String) {
        self.transport = transport.uppercased()
        self.host = host
        self.port = port
        var parameters = SIPParameters()
        parameters.set("branch", branch)
        self.parameters = parameters
    }

    public var branch: String? { parameters["branch"] }

    public init(parsing text: String) throws(SIPParseError) {
        let parts = try SIPGrammar.split(Substring(text), on: ";")
        let head = parts[0]
        // sent-protocol: "SIP" SLASH "2.0" SLASH transport, LWS allowed around each SLASH.
        let fields = head.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else { throw SIPParseError(.headerValue, "bad Via sent-protocol '\(head)'") }
        let name = SIPGrammar.trimmed(fields[0]), version = SIPGrammar.trimmed(fields[1])
        guard SIPGrammar.isToken(name), SIPGrammar.isToken(version) else {
            throw SIPParseError(.headerValue, "bad Via sent-protocol '\(head)'")
        }
        let rest = SIPGrammar.trimmed(fields[2])
        guard let space = rest.firstIndex(where: SIPGrammar.isWhitespace) else {
            throw SIPParseError(.headerValue, "Via has no sent-by")
        }
        let transportToken = rest[..<space]
        guard SIPGrammar.isToken(transportToken) else { throw SIPParseError(.headerValue, "bad Via transport '\(transportToken)'") }
        transport = transportToken.uppercased()
        let sentBy = SIPGrammar.trimmed(rest[space...])
        // Reuse the URI host/port grammar for sent-by.
        let uri = try SIPURI(parsing: "sip:" + sentBy)
        guard uri.user == nil, uri.parameters.items.isEmpty, uri.headers == nil else {
            throw SIPParseError(.headerValue, "bad Via sent-by '\(sentBy)'")
        }
        host = uri.host
        port = uri.port
        let parameterText = parts.dropFirst().map { ";" + $0 }.joined()
        parameters = try SIPParameters.parse(Substring(parameterText))
    }

    public var description: String {
        "SIP/2.0/\(transport) \(host)\(port.map { ":\($0)" } ?? "")\(parameters.description)"
    }
}

/// CSeq: a sequence number and the method it belongs to.
public struct SIPCSeq: Sendable, Hashable, CustomStringConvertible {
    public var number: UInt32
    public var method: SIPMethod

    public init(number: UInt32, method: SIPMethod) {
        self.number = number
        self.method = method
    }

    public init(parsing text: String) throws(SIPParseError) {
        let parts = SIPGrammar.trimmed(text).split(whereSeparator: SIPGrammar.isWhitespace)
        // RFC 3261 §8.1.1.5: the number must be below 2**31.
        guard parts.count == 2, parts[0].count <= 10, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = UInt32(parts[0]), number < 0x8000_0000
        else { throw SIPParseError(.headerValue, "bad CSeq '\(text)'") }
        guard SIPGrammar.isToken(parts[1]) else { throw SIPParseError(.headerValue, "bad CSeq method '\(parts[1])'") }
        self.number = number
        method = SIPMethod(String(parts[1]))
    }

    public var description: String { "\(number) \(method)" }
}

/// A name-addr (`"Alice" <sip:alice@example.com>;tag=1`) or addr-spec (`sip:alice@example.com;tag=1`)
/// with header parameters.
public struct SIPNameAddress: Sendable, Hashable, CustomStringConvertible {
    public var displayName: String?
    public var uri: SIPURI
    /// Header parameters (after the URI), such as tag or expires.
    public var parameters: SIPParameters

    public init(displayName: String? = nil, uri: SIPURI, parameters: SIPParameters = SIPParameters()) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    public var tag: String? {
        get { parameters["tag"] }
        set { parameters.set("tag", newValue) }
    }

    public init(parsing text: String) throws(SIPParseError) {
        let value = SIPGrammar.trimmed(text)
        // Find a '<' outside a quoted display name.
        var index = value.startIndex
        var open: Substring.Index?
        var display: String?
        while index < value.endIndex {
            let c = value[index]
            if c == "\"" {
                let quoted = try SIPGrammar.quotedString(value[index...])
                display = quoted.value
                let after = SIPGrammar.trimmed(quoted.rest)
                guard after.first == "<" else { throw SIPParseError(.headerValue, "quoted display name not followed by <URI>") }
                open = after.startIndex
                break
            }
            if c == "<" {
                let name = SIPGrammar.trimmed(value[..<index])
                if !name.isEmpty {
                    // Unquoted display name: tokens separated by white space.
                    guard name.split(whereSeparator: SIPGrammar.isWhitespace).allSatisfy({ SIPGrammar.isToken($0) }) else {
                        throw SIPParseError(.headerValue, "display name '\(name)' must be quoted")
                    }
                    display = String(name)
                }
                open = index
                break
            }
            index = value.index(after: index)
        }
        if let open {
            guard let close = value[open...].firstIndex(of: ">") else { throw SIPParseError(.headerValue, "missing '>'") }
            uri = try SIPURI(parsing: value[value.index(after: open)..<close])
            parameters = try SIPParameters.parse(value[value.index(after: close)...])
            displayName = display
        } else {
            // addr-spec: the URI cannot carry parameters of its own; ';' starts header parameters.
            let end = value.firstIndex(of: ";") ?? value.endIndex
            // §20: a URI with a comma, semicolon or question mark must be enclosed in <>.
            guard !value[..<end].contains(where: { $0 == "?" || $0 == "," }) else {
                throw SIPParseError(.headerValue, "a URI with headers must be enclosed in <>")
            }
            uri = try SIPURI(parsing: SIPGrammar.trimmed(value[..<end]))
            parameters = try SIPParameters.parse(value[end...])
            displayName = nil
        }
    }

    public var description: String {
        var text = ""
        if let displayName { text += SIPGrammar.quote(displayName) + " " }
        return text + "<\(uri)>" + parameters.description
    }
}
