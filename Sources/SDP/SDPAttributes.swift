// Typed views of the attribute values WebRTC and RTP trunks use. Each type parses the text after
// `a=name:` and writes it back (`attributeValue`); `attribute` builds the whole `SDPAttribute`.
//   rtpmap, fmtp            RFC 8866 §6.6, §6.15
//   ptime, maxptime         RFC 8866 §6.4, §6.5
//   sendrecv & co.          RFC 8866 §6.7, RFC 3264 §6.1
//   rtcp-fb                 RFC 4585 §4.2
//   extmap                  RFC 8285 §7
//   mid, group              RFC 5888 §4, §5; BUNDLE RFC 8843
//   fingerprint             RFC 8122 §5
//   setup                   RFC 4145 §4, RFC 8842 §5
//   ssrc                    RFC 5576 §4.1
//   msid                    RFC 8830 §2
// ICE attributes (candidate, ice-ufrag, …) are in SDPCandidate.swift.

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
public struct RTPMap: Sendable, Hashable {
    public var payloadType: UInt8
    public var encodingName: String
    public var clockRate: Int
    /// Encoding parameters; the channel count for audio.
    public var channels: Int?

    public init(payloadType: UInt8, encodingName: String, clockRate: Int, channels: Int? = nil) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
    }

    public init(parsing value: String) throws {
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let pt = UInt8(parts[0]), pt <= 127 else {
            throw SDPParseError("rtpmap \"\(value)\" does not start with a payload type")
        }
        let encoding = parts[1].split(separator: "/", omittingEmptySubsequences: false)
        guard encoding.count == 2 || encoding.count == 3, !encoding[0].isEmpty, let clock = Int(encoding[1]), clock > 0
        else { throw SDPParseError("rtpmap \"\(value)\" is not 'pt name/clock[/channels]'") }
        var channels: Int?
        if encoding.count == 3 {
            guard let parsed = Int(encoding[2]), parsed > 0 else {
                throw SDPParseError("rtpmap \"\(value)\" has a bad channel count")
            }
            channels = parsed
        }
        self.init(payloadType: pt, encodingName: String(encoding[0]), clockRate: clock, channels: channels)
    }

    public var attributeValue: String {
        var text = "\(payloadType) \(encodingName)/\(clockRate)"
        if let channels { text += "/\(channels)" }
        return text
    }

    public var attribute: SDPAttribute { SDPAttribute("rtpmap", attributeValue) }
}

/// `a=fmtp:<format> <parameters>`. Parameters are kept as written; `parameters` splits the usual
/// `key=value;key=value` form (a telephone-event range like `0-16` has no `=`).
public struct FormatParameters: Sendable, Hashable {
    public var format: String
    public var parameterText: String

    public init(format: String, parameterText: String) {
        self.format = format
        self.parameterText = parameterText
    }

    public init(format: String, parameters: [(String, String?)]) {
        self.init(
            format: format,
            parameterText: parameters.map { key, value in value.map { "\(key)=\($0)" } ?? key }.joined(separator: ";"))
    }

    public init(parsing value: String) throws {
        let parts = value.split(separator: " ", maxSplits: 1)
        guard let first = parts.first, !first.isEmpty else { throw SDPParseError("fmtp \"\(value)\" has no format") }
        self.init(format: String(first), parameterText: parts.count == 2 ? String(parts[1]) : "")
    }

    /// `key=value` pairs in order; keys without `=` have a nil value. Whitespace around keys is dropped.
    public var parameters: [(key: String, value: String?)] {
        parameterText.split(separator: ";").compactMap { item in
            let trimmed = item.trimmingSpaces
            guard !trimmed.isEmpty else { return nil }
            if let equals = trimmed.firstIndex(of: "=") {
                return (String(trimmed[..<equals]), String(trimmed[trimmed.index(after: equals)...]))
            }
            return (String(trimmed), nil)
        }
    }

    /// The value of a parameter, compared case-insensitively by name.
    public func value(of key: String) -> String? {
        parameters.first { $0.key.lowercased() == key.lowercased() }?.value
    }

    public var payloadType: UInt8? { UInt8(format) }
    public var attributeValue: String { parameterText.isEmpty ? format : "\(format) \(parameterText)" }
    public var attribute: SDPAttribute { SDPAttribute("fmtp", attributeValue) }
}

/// `a=rtcp-fb:<pt|*> <type> [<parameter>]`.
public struct RTCPFeedback: Sendable, Hashable {
    /// A payload type number or `*`.
    public var format: String
    /// `nack`, `ccm`, `transport-cc`, `goog-remb`, …
    public var type: String
    /// `pli` in `nack pli`, `fir` in `ccm fir`.
    public var parameter: String?

    public init(format: String, type: String, parameter: String? = nil) {
        self.format = format
        self.type = type
        self.parameter = parameter
    }

    public init(parsing value: String) throws {
        let parts = value.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "*" || UInt8(parts[0]) != nil else {
            throw SDPParseError("rtcp-fb \"\(value)\" is not '<pt|*> <type> [param]'")
        }
        self.init(format: String(parts[0]), type: String(parts[1]), parameter: parts.count == 3 ? String(parts[2]) : nil)
    }

    public var attributeValue: String { [format, type, parameter].compactMap { $0 }.joined(separator: " ") }
    public var attribute: SDPAttribute { SDPAttribute("rtcp-fb", attributeValue) }
}

/// `a=extmap:<id>[/<direction>] <uri> [<extension attributes>]`.
public struct ExtensionMap: Sendable, Hashable {
    public static let audioLevel = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
    public static let mid = "urn:ietf:params:rtp-hdrext:sdes:mid"
    public static let transportWideCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

    /// 1–14 for one-byte headers, up to 255 for two-byte headers.
    public var id: Int
    public var direction: MediaDirection?
    public var uri: String
    public var extensionAttributes: String?

    public init(id: Int, direction: MediaDirection? = nil, uri: String, extensionAttributes: String? = nil) {
        self.id = id
        self.direction = direction
        self.uri = uri
        self.extensionAttributes = extensionAttributes
    }

    public init(parsing value: String) throws {
        let parts = value.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2 else { throw SDPParseError("extmap \"\(value)\" is not '<id> <uri>'") }
        let idParts = parts[0].split(separator: "/", omittingEmptySubsequences: false)
        guard idParts.count <= 2, let id = Int(idParts[0]), (1...255).contains(id) else {
            throw SDPParseError("extmap \"\(value)\" has a bad id")
        }
        var direction: MediaDirection?
        if idParts.count == 2 {
            guard let parsed = MediaDirection(rawValue: String(idParts[1])) else {
                throw SDPParseError("extmap \"\(value)\" has a bad direction")
            }
            direction = parsed
        }
        self.init(
            id: id, direction: direction, uri: String(parts[1]), extensionAttributes: parts.count == 3 ? String(parts[2]) : nil)
    }

    public var attributeValue: String {
        var text = String(id)
        if let direction { text += "/\(direction.rawValue)" }
        text += " \(uri)"
        if let extensionAttributes { text += " \(extensionAttributes)" }
        return text
    }

    public var attribute: SDPAttribute { SDPAttribute("extmap", attributeValue) }
}

/// `a=group:<semantics> <mid> …` (RFC 5888 §5), e.g. `BUNDLE 0 1 2`.
public struct MediaGroup: Sendable, Hashable {
    public var semantics: String
    public var identifiers: [String]

    public init(semantics: String, identifiers: [String]) {
        self.semantics = semantics
        self.identifiers = identifiers
    }

    public init(parsing value: String) throws {
        let parts = value.split(separator: " ")
        guard let first = parts.first else { throw SDPParseError("group attribute without semantics") }
        self.init(semantics: String(first), identifiers: parts.dropFirst().map(String.init))
    }

    public var isBundle: Bool { semantics.uppercased() == "BUNDLE" }
    public var attributeValue: String { ([semantics] + identifiers).joined(separator: " ") }
    public var attribute: SDPAttribute { SDPAttribute("group", attributeValue) }
}

/// `a=fingerprint:<hash-func> <hex:hex:…>` (RFC 8122 §5).
public struct Fingerprint: Sendable, Hashable {
    /// Lower-cased hash function name: `sha-256`, `sha-384`, `sha-512`, `sha-1`.
    public var hashFunction: String
    public var bytes: [UInt8]

    public init(hashFunction: String, bytes: [UInt8]) {
        self.hashFunction = hashFunction.lowercased()
        self.bytes = bytes
    }

    /// From colon-separated hexadecimal, either case (`AB:CD:…`).
    public init(hashFunction: String, hex: String) throws {
        var bytes: [UInt8] = []
        for pair in hex.split(separator: ":", omittingEmptySubsequences: false) {
            guard pair.count == 2, let byte = UInt8(pair, radix: 16) else {
                throw SDPParseError("fingerprint \"\(hex.prefix(24))…\" is not colon-separated hex bytes")
            }
            bytes.append(byte)
        }
        self.init(hashFunction: hashFunction, bytes: bytes)
    }

    public init(parsing value: String) throws {
        let parts = value.split(separator: " ")
        guard parts.count == 2, !parts[0].isEmpty else {
            throw SDPParseError("fingerprint \"\(value.prefix(40))\" is not '<hash> <hex>'")
        }
        try self.init(hashFunction: String(parts[0]), hex: String(parts[1]))
    }

    /// Upper-case colon-separated hex, as RFC 8122 writes it.
    public var hexValue: String {
        bytes.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: ":")
    }

    public var attributeValue: String { "\(hashFunction) \(hexValue)" }
    public var attribute: SDPAttribute { SDPAttribute("fingerprint", attributeValue) }
}

/// `a=setup:` (RFC 4145 §4): which side opens the DTLS connection (active = DTLS client).
public enum SetupRole: String, Sendable, Hashable, CaseIterable {
    case active, passive, actpass, holdconn

    public var attribute: SDPAttribute { SDPAttribute("setup", rawValue) }
}

/// The media direction attributes, from the point of view of the side that writes them.
public enum MediaDirection: String, Sendable, Hashable, CaseIterable {
    case sendrecv, sendonly, recvonly, inactive

    public var sends: Bool { self == .sendrecv || self == .sendonly }
    public var receives: Bool { self == .sendrecv || self == .recvonly }

    public init(sends: Bool, receives: Bool) {
        switch (sends, receives) {
        case (true, true): self = .sendrecv
        case (true, false): self = .sendonly
        case (false, true): self = .recvonly
        case (false, false): self = .inactive
        }
    }

    /// The same stream seen from the other side: sendonly ↔ recvonly.
    public var reversed: MediaDirection { MediaDirection(sends: receives, receives: sends) }

    /// What an answerer willing to do `local` answers to an offer of `self` (RFC 3264 §6.1).
    public func answer(local: MediaDirection) -> MediaDirection {
        MediaDirection(sends: receives && local.sends, receives: sends && local.receives)
    }

    public var attribute: SDPAttribute { SDPAttribute(rawValue) }
}

/// `a=ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576 §4.1), e.g. `ssrc:1234 cname:abc`.
public struct SSRCAttribute: Sendable, Hashable {
    public var ssrc: UInt32
    public var name: String
    public var value: String?

    public init(ssrc: UInt32, name: String, value: String? = nil) {
        self.ssrc = ssrc
        self.name = name
        self.value = value
    }

    public init(parsing text: String) throws {
        let parts = text.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let ssrc = UInt32(parts[0]) else {
            throw SDPParseError("ssrc \"\(text)\" is not '<ssrc> <attribute>'")
        }
        let attribute = parts[1]
        if let colon = attribute.firstIndex(of: ":") {
            self.init(
                ssrc: ssrc, name: String(attribute[..<colon]), value: String(attribute[attribute.index(after: colon)...]))
        } else {
            self.init(ssrc: ssrc, name: String(attribute))
        }
    }

    public var attributeValue: String { "\(ssrc) \(name)" + (value.map { ":\($0)" } ?? "") }
    public var attribute: SDPAttribute { SDPAttribute("ssrc", attributeValue) }
}

/// `a=msid:<stream id> [<track id>]` (RFC 8830 §2).
public struct MediaStreamID: Sendable, Hashable {
    public var streamID: String
    public var trackID: String?

    public init(streamID: String, trackID: String? = nil) {
        self.streamID = streamID
        self.trackID = trackID
    }

    public init(parsing value: String) throws {
        let parts = value.split(separator: " ")
        guard parts.count == 1 || parts.count == 2 else { throw SDPParseError("msid \"\(value)\" is not '<id> [<appdata>]'") }
        self.init(streamID: String(parts[0]), trackID: parts.count == 2 ? String(parts[1]) : nil)
    }

    public var attributeValue: String { trackID.map { "\(streamID) \($0)" } ?? streamID }
    public var attribute: SDPAttribute { SDPAttribute("msid", attributeValue) }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
