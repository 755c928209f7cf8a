// ICE credentials and candidates as the agent needs them: ufrag and password drawn from the
// ice-char alphabet (RFC 8839 §5.4: ALPHA / DIGIT / "+" / "/"; at least 24 bits in a ufrag of
// 4 or more characters and 128 bits in a password of 22 or more, RFC 8445 §5.3), host candidate
// priorities (RFC 8445 §5.1.2.1), and the pair a lite agent selects (RFC 8445 §6.1.2.6).

/// An ICE username fragment and password.
public struct ICECredentials: Hashable, Sendable {
    public var ufrag: String
    public var password: String

    public init(ufrag: String, password: String) {
        self.ufrag = ufrag
        self.password = password
    }

    /// The 64 ice-chars; each random character carries six bits.
    static let iceChars: [Character] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    /// Lengths of generated credentials: 8 characters (48 bits) and 24 characters (144 bits).
    public static let generatedUfragLength = 8
    public static let generatedPasswordLength = 24

    /// Fresh random credentials from `generator`, which should be cryptographically secure in
    /// production (the system generator is) and may be seeded in tests.
    public static func generate<R: RandomNumberGenerator>(using generator: inout R) -> ICECredentials {
        ICECredentials(
            ufrag: randomString(length: generatedUfragLength, using: &generator),
            password: randomString(length: generatedPasswordLength, using: &generator))
    }

    /// Fresh credentials from the system's secure generator.
    public static func generate() -> ICECredentials {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    static func randomString<R: RandomNumberGenerator>(length: Int, using generator: inout R) -> String {
        var text = ""
        var bits: UInt64 = 0
        var available = 0
        for _ in 0..<length {
            if available < 6 {
                bits = generator.next()
                available = 64
            }
            text.append(iceChars[Int(bits & 0x3F)])
            bits >>= 6
            available -= 6
        }
        return text
    }

    /// Whether the strings are ice-chars of acceptable lengths (ufrag 4-256, password 22-256).
    public var isValid: Bool {
        func allIceChars(_ s: String) -> Bool { s.allSatisfy { ICECredentials.iceChars.contains($0) } }
        return (4...256).contains(ufrag.count) && (22...256).contains(password.count)
            && allIceChars(ufrag) && allIceChars(password)
    }
}

/// A local candidate of a lite agent: always a host candidate (RFC 8445 §2.5).
public struct ICECandidate: Hashable, Sendable {
    public var address: ICETransportAddress
    public var foundation: String
    public var component: Int
    public var priority: UInt32

    /// - Parameter localPreference: 65535 for the most preferred address (RFC 8445 §5.1.2.2).
    public init(address: ICETransportAddress, foundation: String = "1", component: Int = 1,
                localPreference: UInt16 = 65535) {
        self.address = address
        self.foundation = foundation
        self.component = component
        self.priority = ICECandidate.priority(typePreference: 126, localPreference: localPreference, component: component)
    }

    /// RFC 8445 §5.1.2.1: 2^24 × type preference + 2^8 × local preference + (256 − component).
    public static func priority(typePreference: UInt8, localPreference: UInt16, component: Int) -> UInt32 {
        UInt32(typePreference) << 24 | UInt32(localPreference) << 8 | UInt32(256 - min(max(component, 1), 256))
    }
}

/// A local and a remote transport address the agent has answered a check between.
public struct ICECandidatePair: Hashable, Sendable, CustomStringConvertible {
    public var local: ICETransportAddress
    public var remote: ICETransportAddress

    public init(local: ICETransportAddress, remote: ICETransportAddress) {
        self.local = local
        self.remote = remote
    }

    public var description: String { "\(local) <-> \(remote)" }
}
