// Parsing session descriptions (RFC 8866 §5 and the §9 grammar). Lines end in CRLF or bare LF;
// blank lines are skipped. `v=` must come first and `o=`/`s=` must be present; the other session
// lines are accepted in any order before the first `m=` (they are written back in RFC order).
// A type letter outside RFC 8866's set rejects the whole description (§5: "ignore or reject";
// Tandem rejects). Attribute values are not interpreted here: see SDPAttributes.swift.

import NIOCore

extension SessionDescription {
    /// Parses a session description, throwing `SDPParseError` (with a line number) on the first
    /// malformed line.
    public init(parsing text: String) throws {
        var parser = SDPLineParser()
        // "\r\n" is a single Character in Swift, so both line ends are separators here.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (index, rawLine) in lines.enumerated() {
            var line = Substring(rawLine)
            if line.last == "\r" { line = line.dropLast() }
            if line.isEmpty { continue }
            try parser.consume(line, number: index + 1)
        }
        self = try parser.finish()
    }

    /// Parses a session description from a message body.
    public init(parsing buffer: ByteBuffer) throws {
        try self.init(parsing: String(buffer: buffer))
    }
}

/// The line-by-line state of one parse.
private struct SDPLineParser {
    private var sawVersion = false
    private var version = 0
    private var origin: SDPOrigin?
    private var sessionName: String?
    private var information: String?
    private var uri: String?
    private var emails: [String] = []
    private var phones: [String] = []
    private var connection: SDPConnection?
    private var bandwidths: [SDPBandwidth] = []
    private var timings: [SDPTiming] = []
    private var timeZones: String?
    private var encryptionKey: String?
    private var attributes: [SDPAttribute] = []
    private var media: [MediaDescription] = []
    private var lastLine = 0

    mutating func consume(_ line: Substring, number: Int) throws {
        lastLine = number
        func fail(_ reason: String) -> SDPParseError { SDPParseError(line: number, reason) }

        guard line.count >= 2, let type = line.first, line.dropFirst().first == "=" else {
            throw fail("expected 'type=value', found \"\(line.prefix(40))\"")
        }
        guard type.isASCII, type.isLowercase else { throw fail("invalid line type '\(type)'") }
        let value = line.dropFirst(2)
        if value.contains(where: { $0 == "\0" || $0 == "\r" }) { throw fail("control character in '\(type)=' line") }

        if !sawVersion {
            guard type == "v" else { throw fail("the description must start with 'v=', found '\(type)='") }
            guard value == "0" else { throw fail("unsupported protocol version '\(value)'") }
            sawVersion = true
            return
        }

        if !media.isEmpty {
            try consumeMediaLine(type: type, value: value, fail: fail)
            return
        }

        switch type {
        case "v":
            throw fail("duplicate 'v=' line")
        case "o":
            guard origin == nil else { throw fail("duplicate 'o=' line") }
            origin = try Self.parseOrigin(value, fail: fail)
        case "s":
            guard sessionName == nil else { throw fail("duplicate 's=' line") }
            sessionName = String(value)
        case "i":
            guard information == nil else { throw fail("duplicate session-level 'i=' line") }
            information = String(value)
        case "u":
            guard uri == nil else { throw fail("duplicate 'u=' line") }
            uri = String(value)
        case "e":
            emails.append(String(value))
        case "p":
            phones.append(String(value))
        case "c":
            guard connection == nil else { throw fail("duplicate session-level 'c=' line") }
            connection = try Self.parseConnection(value, fail: fail)
        case "b":
            bandwidths.append(try Self.parseBandwidth(value, fail: fail))
        case "t":
            let fields = value.split(separator: " ")
            guard fields.count == 2, let start = UInt64(fields[0]), let stop = UInt64(fields[1]) else {
                throw fail("'t=' needs two decimal times, found \"\(value)\"")
            }
            timings.append(SDPTiming(start: start, stop: stop))
        case "r":
            guard !timings.isEmpty else { throw fail("'r=' line without a preceding 't=' line") }
            timings[timings.count - 1].repeats.append(String(value))
        case "z":
            guard timeZones == nil else { throw fail("duplicate 'z=' line") }
            timeZones = String(value)
        case "k":
            guard encryptionKey == nil else { throw fail("duplicate session-level 'k=' line") }
            encryptionKey = String(value)
        case "a":
            attributes.append(try Self.parseAttribute(value, fail: fail))
        case "m":
            guard origin != nil else { throw fail("'m=' line before the 'o=' line") }
            guard sessionName != nil else { throw fail("'m=' line before the 's=' line") }
            media.append(try Self.parseMediaLine(value, fail: fail))
        default:
            throw fail("unknown line type '\(type)='")
        }
    }

    private mutating func consumeMediaLine(
        type: Character, value: Substring, fail: (String) -> SDPParseError
    ) throws {
        let index = media.count - 1
        switch type {
        case "m":
            media.append(try Self.parseMediaLine(value, fail: fail))
        case "i":
            guard media[index].information == nil else { throw fail("duplicate media-level 'i=' line") }
            media[index].information = String(value)
        case "c":
            media[index].connections.append(try Self.parseConnection(value, fail: fail))
        case "b":
            media[index].bandwidths.append(try Self.parseBandwidth(value, fail: fail))
        case "k":
            guard media[index].encryptionKey == nil else { throw fail("duplicate media-level 'k=' line") }
            media[index].encryptionKey = String(value)
        case "a":
            media[index].attributes.append(try Self.parseAttribute(value, fail: fail))
        case "v", "o", "s", "u", "e", "p", "t", "r", "z":
            throw fail("'\(type)=' is a session-level line and cannot follow an 'm=' line")
        default:
            throw fail("unknown line type '\(type)='")
        }
    }

    func finish() throws -> SessionDescription {
        guard sawVersion else { throw SDPParseError(line: nil, "empty session description") }
        guard let origin else { throw SDPParseError(line: lastLine, "missing 'o=' line") }
        guard let sessionName else { throw SDPParseError(line: lastLine, "missing 's=' line") }
        return SessionDescription(
            version: version, origin: origin, sessionName: sessionName, information: information, uri: uri,
            emails: emails, phones: phones, connection: connection, bandwidths: bandwidths, timings: timings,
            timeZones: timeZones, encryptionKey: encryptionKey, attributes: attributes, media: media)
    }

    // MARK: Line grammars

    private static func parseOrigin(_ value: Substring, fail: (String) -> SDPParseError) throws -> SDPOrigin {
        let fields = value.split(separator: " ")
        guard fields.count == 6 else {
            throw fail("'o=' needs 6 fields (username sess-id sess-version nettype addrtype address), found \(fields.count)")
        }
        guard fields[1].allSatisfy(\.isASCIIDigit) else { throw fail("'o=' session id \"\(fields[1])\" is not numeric") }
        guard let version = UInt64(fields[2]) else {
            throw fail("'o=' session version \"\(fields[2])\" is not a 64-bit number")
        }
        return SDPOrigin(
            username: String(fields[0]), sessionID: String(fields[1]), sessionVersion: version,
            networkType: String(fields[3]), addressType: String(fields[4]), address: String(fields[5]))
    }

    private static func parseConnection(
        _ value: Substring, fail: (String) -> SDPParseError
    ) throws -> SDPConnection {
        let fields = value.split(separator: " ")
        guard fields.count == 3 else {
            throw fail("'c=' needs 3 fields (nettype addrtype address), found \(fields.count)")
        }
        return SDPConnection(networkType: String(fields[0]), addressType: String(fields[1]), address: String(fields[2]))
    }

    private static func parseBandwidth(_ value: Substring, fail: (String) -> SDPParseError) throws -> SDPBandwidth {
        guard let colon = value.firstIndex(of: ":"), colon != value.startIndex,
            let amount = UInt64(value[value.index(after: colon)...])
        else { throw fail("'b=' must be 'type:number', found \"\(value)\"") }
        return SDPBandwidth(type: String(value[..<colon]), value: amount)
    }

    private static func parseAttribute(_ value: Substring, fail: (String) -> SDPParseError) throws -> SDPAttribute {
        let name: Substring
        let attributeValue: Substring?
        if let colon = value.firstIndex(of: ":") {
            name = value[..<colon]
            attributeValue = value[value.index(after: colon)...]
        } else {
            name = value
            attributeValue = nil
        }
        guard !name.isEmpty, name.allSatisfy(\.isSDPTokenCharacter) else {
            throw fail("attribute name \"\(name)\" is not a token")
        }
        return SDPAttribute(String(name), attributeValue.map(String.init))
    }

    private static func parseMediaLine(_ value: Substring, fail: (String) -> SDPParseError) throws -> MediaDescription {
        let fields = value.split(separator: " ")
        guard fields.count >= 3 else {
            throw fail("'m=' needs media, port and protocol, found \"\(value)\"")
        }
        guard fields[0].allSatisfy(\.isSDPTokenCharacter) else { throw fail("media type \"\(fields[0])\" is not a token") }
        let portField = fields[1].split(separator: "/", omittingEmptySubsequences: false)
        guard portField.count <= 2, let port = Int(portField[0]), (0...65535).contains(port) else {
            throw fail("'m=' port \"\(fields[1])\" is not a port number")
        }
        var count: Int?
        if portField.count == 2 {
            guard let parsed = Int(portField[1]), parsed > 0 else {
                throw fail("'m=' port count \"\(portField[1])\" is not a positive number")
            }
            count = parsed
        }
        return MediaDescription(
            media: String(fields[0]), port: port, portCount: count, proto: String(fields[2]),
            formats: fields.dropFirst(3).map(String.init))
    }
}

extension Character {
    /// RFC 8866 `token-char`: visible ASCII except the separators `"(),/:;<=>?@[\]{}` and space.
    var isSDPTokenCharacter: Bool {
        guard let ascii = asciiValue, ascii > 0x20, ascii < 0x7F else { return false }
        return !"\"(),/:;<=>?@[\\]{}".contains(self)
    }

    var isASCIIDigit: Bool { isASCII && isNumber }
}
