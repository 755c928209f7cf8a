// Parses one SIP message from bytes (RFC 3261 §7 and the §25 grammar): the start line, header
// lines with folding (§7.3.1) and compact names, and the body bounded by Content-Length (§18.3:
// on a datagram, bytes past Content-Length are discarded and a Content-Length larger than what
// arrived is an error). Semantic checks of individual headers are left to `validate()`.

public enum SIPParser {
    /// Largest message accepted, in bytes.
    public static let maximumSize = 65_535

    /// Parses `bytes` as one complete message (a datagram, or a message a stream framer cut).
    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(SIPParseError) -> SIPMessage {
        guard bytes.count <= maximumSize else { throw SIPParseError(.contentLength, "message larger than \(maximumSize) bytes") }
        let data = Array(bytes)
        // Header section: up to the first empty line (CRLF CRLF, or LF LF from lenient senders).
        guard let (headerEnd, bodyStart) = endOfHeaders(data) else {
            throw SIPParseError(.incomplete, "no empty line after the headers")
        }
        var lines = try splitLines(data[0..<headerEnd])
        guard !lines.isEmpty else { throw SIPParseError(.startLine, "empty message") }
        let startLine = lines.removeFirst()
        let headers = try parseHeaders(lines)

        var body = Array(data[bodyStart...])
        let lengths = headers.values("Content-Length")
        if let first = lengths.first {
            let declared = try contentLength(first)
            guard lengths.allSatisfy({ (try? contentLength($0)) == declared }) else {
                throw SIPParseError(.contentLength, "conflicting Content-Length headers")
            }
            guard declared <= body.count else {
                throw SIPParseError(.contentLength, "Content-Length \(declared) is larger than the \(body.count)-byte body")
            }
            body.removeLast(body.count - declared)
        }

        if startLine.hasPrefix("SIP/") || startLine.hasPrefix("sip/") {
            let (version, code, reason) = try parseStatusLine(startLine)
            return .response(SIPResponse(statusCode: code, reason: reason, headers: headers, body: body, version: version))
        }
        let (method, uri, version) = try parseRequestLine(startLine)
        return .request(SIPRequest(method: method, uri: uri, headers: headers, body: body, version: version))
    }

    /// Index where the header section ends and where the body starts.
    static func endOfHeaders(_ data: [UInt8]) -> (Int, Int)? {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        var index = 0
        while index < data.count {
            if data[index] == lf {
                if index + 1 < data.count && data[index + 1] == lf { return (index, index + 2) }
                if index + 2 < data.count && data[index + 1] == cr && data[index + 2] == lf { return (index, index + 3) }
            }
            index += 1
        }
        return nil
    }

    /// Splits at CRLF (or lone LF) and unfolds continuation lines (§7.3.1): a line starting with
    /// white space continues the previous one, joined by a single space. Works on bytes: in a
    /// Swift String, CRLF is one Character and would not split at "\n".
    static func splitLines(_ bytes: ArraySlice<UInt8>) throws(SIPParseError) -> [String] {
        var lines: [String] = []
        for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            var line = raw
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard !line.contains(UInt8(ascii: "\r")) else { throw SIPParseError(.headerLine, "bare CR inside a line") }
            guard let text = String(validating: line, as: UTF8.self) else { throw SIPParseError(.headerLine, "line is not UTF-8") }
            if let first = line.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t"), !lines.isEmpty {
                lines[lines.count - 1] += " " + SIPGrammar.trimmed(text)
            } else {
                lines.append(text)
            }
        }
        // A message may start with CRLFs (keep-alives, §7.5); skip them.
        while lines.first?.isEmpty == true { lines.removeFirst() }
        return lines
    }

    static func parseHeaders(_ lines: [String]) throws(SIPParseError) -> SIPHeaders {
        var headers = SIPHeaders()
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else {
                throw SIPParseError(.headerLine, "header line without a colon: '\(line.prefix(40))'")
            }
            // HCOLON = *( SP / HTAB ) ":" SWS
            var name = line[..<colon]
            while let last = name.last, SIPGrammar.isWhitespace(last) { name = name.dropLast() }
            guard SIPGrammar.isToken(name) else {
                throw SIPParseError(.headerLine, "bad header name '\(name.prefix(40))'")
            }
            headers.add(String(name), String(SIPGrammar.trimmed(line[line.index(after: colon)...])))
        }
        return headers
    }

    static func contentLength(_ value: String) throws(SIPParseError) -> Int {
        let trimmed = SIPGrammar.trimmed(value)
        guard !trimmed.isEmpty, trimmed.count <= 9, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(trimmed) else {
            throw SIPParseError(.contentLength, "bad Content-Length '\(value)'")
        }
        return length
    }

    /// Request-Line = Method SP Request-URI SP SIP-Version (single spaces, §7.1).
    static func parseRequestLine(_ line: String) throws(SIPParseError) -> (SIPMethod, SIPURI, String) {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw SIPParseError(.startLine, "request line is not 'METHOD URI SIP/2.0'") }
        guard SIPGrammar.isToken(parts[0]) else { throw SIPParseError(.startLine, "bad method '\(parts[0])'") }
        let version = try parseVersion(parts[2])
        let uri: SIPURI
        do {
            uri = try SIPURI(parsing: parts[1])
        } catch {
            throw SIPParseError(.startLine, "bad Request-URI: \(error.reason)")
        }
        return (SIPMethod(String(parts[0])), uri, version)
    }

    /// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase.
    static func parseStatusLine(_ line: String) throws(SIPParseError) -> (String, Int, String) {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2 else { throw SIPParseError(.startLine, "status line is not 'SIP/2.0 CODE REASON'") }
        let version = try parseVersion(parts[0])
        guard parts[1].count == 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let code = Int(parts[1]), (100...699).contains(code) else {
            throw SIPParseError(.startLine, "bad status code '\(parts[1].prefix(12))'")
        }
        return (version, code, parts.count == 3 ? String(parts[2]) : "")
    }

    /// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, case-insensitive "SIP".
    static func parseVersion(_ text: Substring) throws(SIPParseError) -> String {
        let upper = text.uppercased()
        guard upper.hasPrefix("SIP/") else { throw SIPParseError(.startLine, "bad SIP version '\(text.prefix(12))'") }
        let numbers = upper.dropFirst(4).split(separator: ".", omittingEmptySubsequences: false)
        guard numbers.count == 2, numbers.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else {
            throw SIPParseError(.startLine, "bad SIP version '\(text.prefix(12))'")
        }
        return upper
    }
}

// MARK: - Serializing

extension SIPMessage {
    /// The message on the wire: start line, headers with canonical names (Content-Length always
    /// written and equal to the body), empty line, body.
    public func serialized() -> [UInt8] {
        var text: String
        let headers: SIPHeaders
        let body: [UInt8]
        switch self {
        case .request(let request):
            text = "\(request.method) \(request.uri) \(request.version)\r\n"
            headers = request.headers
            body = request.body
        case .response(let response):
            text = "\(response.version) \(response.statusCode) \(response.reason)\r\n"
            headers = response.headers
            body = response.body
        }
        for field in headers where field.name != "Content-Length" {
            text += "\(field.name): \(field.value)\r\n"
        }
        text += "Content-Length: \(body.count)\r\n\r\n"
        return Array(text.utf8) + body
    }
}

extension SIPRequest {
    public func serialized() -> [UInt8] { SIPMessage.request(self).serialized() }
}

extension SIPResponse {
    public func serialized() -> [UInt8] { SIPMessage.response(self).serialized() }
}
