// SIP and SIPS URIs (RFC 3261 §19.1, grammar §25.1), with IPv6 references (RFC 5118) and
// WebSocket `.invalid` hosts (RFC 7118 §5.2). Other schemes (tel:, unknown ones) are kept opaque.
// Text is kept as written (escapes included) so a parsed URI serializes to the same bytes.

/// A URI as found in a Request-URI or a name-addr.
public struct SIPURI: Sendable, Hashable, CustomStringConvertible {
    /// Lower-cased scheme: `sip`, `sips`, `tel`, or another.
    public var scheme: String
    /// User part, escapes as written; nil when absent.
    public var user: String?
    public var password: String?
    /// Host name, IPv4 address, or IPv6 reference with its brackets. Empty for opaque URIs.
    public var host: String
    public var port: Int?
    public var parameters: SIPParameters
    /// The `?h=v&…` header part as written (without the '?'), if any.
    public var headers: String?
    /// Everything after `scheme:` for schemes other than sip and sips.
    public var opaque: String?

    public init(scheme: String = "sip", user: String? = nil, host: String, port: Int? = nil, parameters: SIPParameters = SIPParameters()) {
        self.scheme = scheme
        self.user = user
        self.password = nil
        self.host = host
        self.port = port
        self.parameters = parameters
        self.headers = nil
        self.opaque = nil
    }

    public var isSIP: Bool { scheme == "sip" || scheme == "sips" }

    /// The `transport` URI parameter, lower-cased.
    public var transport: String? { parameters["transport"]?.lowercased() }

    /// Host without IPv6 brackets.
    public var hostWithoutBrackets: String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    public init(parsing text: String) throws(SIPParseError) {
        try self.init(parsing: Substring(text))
    }

    public init(parsing text: Substring) throws(SIPParseError) {
        guard let colon = text.firstIndex(of: ":") else { throw SIPParseError(.uri, "URI without a scheme: '\(text)'") }
        let schemeText = text[..<colon]
        guard let first = schemeText.first, first.isLetter, first.isASCII,
            schemeText.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { throw SIPParseError(.uri, "bad URI scheme '\(schemeText)'") }
        guard !text.contains(where: { $0 == " " || $0 == "\t" || $0 == "<" || $0 == ">" || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else {
            throw SIPParseError(.uri, "URI contains white space, quotes or angle brackets")
        }
        scheme = schemeText.lowercased()
        let rest = text[text.index(after: colon)...]
        user = nil
        password = nil
        port = nil
        parameters = SIPParameters()
        headers = nil
        guard scheme == "sip" || scheme == "sips" else {
            guard !rest.isEmpty else { throw SIPParseError(.uri, "empty \(scheme) URI") }
            host = ""
            opaque = String(rest)
            return
        }
        opaque = nil
        var hostPart = rest
        if let at = rest.firstIndex(of: "@") {
            let userinfo = rest[..<at]
            hostPart = rest[rest.index(after: at)...]
            if let passwordColon = userinfo.firstIndex(of: ":") {
                user = String(userinfo[..<passwordColon])
                password = String(userinfo[userinfo.index(after: passwordColon)...])
            } else {
                user = String(userinfo)
            }
            guard let user, !user.isEmpty else { throw SIPParseError(.uri, "empty user part in '\(text)'") }
            try SIPURI.checkEscapes(user)
        }
        let hostportEnd = hostPart.firstIndex { $0 == ";" || $0 == "?" } ?? hostPart.endIndex
        let hostport = hostPart[..<hostportEnd]
        if hostport.first == "[" {
            guard let close = hostport.firstIndex(of: "]") else { throw SIPParseError(.uri, "unterminated IPv6 reference") }
            let inner = hostport[hostport.index(after: hostport.startIndex)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw SIPParseError(.uri, "bad IPv6 reference '\(hostport[...close])'")
            }
            host = String(hostport[...close])
            let after = hostport[hostport.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw SIPParseError(.uri, "unexpected text after IPv6 reference") }
                port = try SIPURI.parsePort(after.dropFirst())
            }
        } else {
            if let portColon = hostport.lastIndex(of: ":") {
                host = String(hostport[..<portColon])
                port = try SIPURI.parsePort(hostport[hostport.index(after: portColon)...])
            } else {
                host = String(hostport)
            }
            guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_") }) else {
                throw SIPParseError(.uri, "bad host '\(host)'")
            }
        }
        var tail = hostPart[hostportEnd...]
        if let question = tail.firstIndex(of: "?") {
            headers = String(tail[tail.index(after: question)...])
            tail = tail[..<question]
        }
        parameters = try SIPParameters.parse(tail)
    }

    private static func parsePort(_ text: Substring) throws(SIPParseError) -> Int {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber),
            let value = Int(text), value <= 65535
        else { throw SIPParseError(.uri, "bad port '\(text)'") }
        return value
    }

    /// Every `%` must start a two-hex-digit escape (RFC 3986 §2.1).
    private static func checkEscapes(_ text: String) throws(SIPParseError) {
        var iterator = text.makeIterator()
        while let c = iterator.next() {
            if c == "%" {
                guard let a = iterator.next(), let b = iterator.next(), a.isHexDigit, b.isHexDigit else {
                    throw SIPParseError(.uri, "bad escape in '\(text)'")
                }
            }
        }
    }

    public var description: String {
        if let opaque { return "\(scheme):\(opaque)" }
        var text = scheme + ":"
        if let user {
            text += user
            if let password { text += ":" + password }
            text += "@"
        }
        text += host
        if let port { text += ":\(port)" }
        text += parameters.description
        if let headers { text += "?" + headers }
        return text
    }

    /// RFC 3261 §19.1.4 equivalence for SIP URIs: scheme, user (case-sensitive after unescaping
    /// is approximated by exact match), host case-insensitive, port, and the transport, user,
    /// ttl, method and maddr parameters when either side has them.
    public func isEquivalent(to other: SIPURI) -> Bool {
        guard scheme == other.scheme else { return false }
        guard isSIP else { return opaque == other.opaque }
        guard user == other.user, password == other.password, host.caseInsensitiveEquals(other.host), port == other.port else {
            return false
        }
        for name in ["transport", "user", "ttl", "method", "maddr"] where parameters.contains(name) || other.parameters.contains(name) {
            guard let a = parameters[name], let b = other.parameters[name], a.caseInsensitiveEquals(b) else { return false }
        }
        return true
    }
}
