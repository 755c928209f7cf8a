// ICE in SDP (RFC 8839): the `a=candidate` grammar (§5.1), host candidate priorities
// (RFC 8445 §5.1.2), and the credentials carried by `a=ice-ufrag`/`a=ice-pwd` (§5.4).
//
// The types are named SDP… to stay apart from the ICE target's own candidate and credential
// types; the application converts between them.

/// One `a=candidate:` value.
public struct SDPCandidate: Sendable, Hashable {
    public enum CandidateType: Sendable, Hashable {
        case host, serverReflexive, peerReflexive, relayed
        case other(String)

        public init(_ text: String) {
            switch text.lowercased() {
            case "host": self = .host
            case "srflx": self = .serverReflexive
            case "prflx": self = .peerReflexive
            case "relay": self = .relayed
            default: self = .other(text)
            }
        }

        public var text: String {
            switch self {
            case .host: return "host"
            case .serverReflexive: return "srflx"
            case .peerReflexive: return "prflx"
            case .relayed: return "relay"
            case .other(let text): return text
            }
        }
    }

    /// 1–32 ice-chars.
    public var foundation: String
    /// 1 for RTP; 2 for RTCP when not muxed.
    public var component: Int
    /// `UDP` (any case) or an extension such as `TCP`.
    public var transport: String
    public var priority: UInt32
    /// An IPv4 or IPv6 address, or an FQDN (including mDNS `.local` names).
    public var address: String
    public var port: Int
    public var type: CandidateType
    public var relatedAddress: String?
    public var relatedPort: Int?
    /// Extension name/value pairs in order: `generation 0`, `tcptype passive`, `ufrag …`.
    public var extensions: [(name: String, value: String)]

    public init(
        foundation: String, component: Int = 1, transport: String = "UDP", priority: UInt32, address: String,
        port: Int, type: CandidateType, relatedAddress: String? = nil, relatedPort: Int? = nil,
        extensions: [(name: String, value: String)] = []
    ) {
        self.foundation = foundation
        self.component = component
        self.transport = transport
        self.priority = priority
        self.address = address
        self.port = port
        self.type = type
        self.relatedAddress = relatedAddress
        self.relatedPort = relatedPort
        self.extensions = extensions
    }

    /// A UDP host candidate with the RFC 8445 §5.1.2.1 priority: type preference 126, the given
    /// local preference (65535 for a single address; lower ones for less preferred addresses).
    public static func host(
        address: String, port: Int, foundation: String = "1", component: Int = 1, localPreference: UInt16 = 65535
    ) -> SDPCandidate {
        let priority = (UInt32(126) << 24) | (UInt32(localPreference) << 8) | UInt32(256 - component)
        return SDPCandidate(
            foundation: foundation, component: component, priority: priority, address: address, port: port, type: .host)
    }

    /// Parses the value after `a=candidate:`; a leading `candidate:` (as in trickled candidates) is accepted.
    public init(parsing value: String) throws {
        var text = Substring(value)
        if text.hasPrefix("candidate:") { text = text.dropFirst("candidate:".count) }
        let fields = text.split(separator: " ")
        func fail(_ reason: String) -> SDPParseError { SDPParseError("candidate \"\(value.prefix(60))\": \(reason)") }

        guard fields.count >= 8 else { throw fail("too few fields") }
        guard (1...32).contains(fields[0].count), fields[0].allSatisfy(\.isICECharacter) else {
            throw fail("bad foundation")
        }
        guard fields[1].count <= 3, let component = Int(fields[1]), (1...256).contains(component) else {
            throw fail("bad component id")
        }
        guard fields[2].allSatisfy(\.isSDPTokenCharacter) else { throw fail("bad transport") }
        guard fields[3].count <= 10, let priority = UInt32(fields[3]) else { throw fail("bad priority") }
        guard let port = Int(fields[5]), (0...65535).contains(port) else { throw fail("bad port") }
        guard fields[6] == "typ" else { throw fail("expected 'typ'") }

        var relatedAddress: String?
        var relatedPort: Int?
        var extensions: [(name: String, value: String)] = []
        var index = 8
        if index + 1 < fields.count, fields[index] == "raddr" {
            relatedAddress = String(fields[index + 1])
            index += 2
        }
        if index + 1 < fields.count, fields[index] == "rport" {
            guard let parsed = Int(fields[index + 1]), (0...65535).contains(parsed) else { throw fail("bad rport") }
            relatedPort = parsed
            index += 2
        }
        while index < fields.count {
            guard index + 1 < fields.count else { throw fail("extension \"\(fields[index])\" has no value") }
            extensions.append((String(fields[index]), String(fields[index + 1])))
            index += 2
        }
        self.init(
            foundation: String(fields[0]), component: component, transport: String(fields[2]), priority: priority,
            address: String(fields[4]), port: port, type: CandidateType(String(fields[7])),
            relatedAddress: relatedAddress, relatedPort: relatedPort, extensions: extensions)
    }

    /// The value after `a=candidate:`.
    public var attributeValue: String {
        var text = "\(foundation) \(component) \(transport) \(priority) \(address) \(port) typ \(type.text)"
        if let relatedAddress { text += " raddr \(relatedAddress)" }
        if let relatedPort { text += " rport \(relatedPort)" }
        for (name, value) in extensions { text += " \(name) \(value)" }
        return text
    }

    public var attribute: SDPAttribute { SDPAttribute("candidate", attributeValue) }

    public var isUDP: Bool { transport.uppercased() == "UDP" }

    public static func == (lhs: SDPCandidate, rhs: SDPCandidate) -> Bool {
        lhs.attributeValue == rhs.attributeValue
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(attributeValue) }
}

/// `a=ice-ufrag` and `a=ice-pwd` (RFC 8839 §5.4).
public struct SDPICECredentials: Sendable, Hashable {
    /// 4–256 ice-chars.
    public var ufrag: String
    /// 22–256 ice-chars.
    public var pwd: String

    public init(ufrag: String, pwd: String) {
        self.ufrag = ufrag
        self.pwd = pwd
    }

    /// Whether both values meet the RFC 8839 §5.4 length and character rules.
    public var isValid: Bool {
        (4...256).contains(ufrag.count) && (22...256).contains(pwd.count)
            && ufrag.allSatisfy(\.isICECharacter) && pwd.allSatisfy(\.isICECharacter)
    }
}

extension Character {
    /// RFC 8839 `ice-char`: ALPHA / DIGIT / "+" / "/".
    var isICECharacter: Bool {
        guard let ascii = asciiValue else { return false }
        return (ascii >= 0x30 && ascii <= 0x39) || (ascii >= 0x41 && ascii <= 0x5A) || (ascii >= 0x61 && ascii <= 0x7A)
            || ascii == 0x2B || ascii == 0x2F
    }
}
