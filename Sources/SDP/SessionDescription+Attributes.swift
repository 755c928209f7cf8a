// Reading and editing attributes on a session or a media description: lookups by name, typed
// accessors for the attributes of SDPAttributes.swift and SDPCandidate.swift, and the
// session-then-media fallback for attributes that may sit at either level (ICE credentials,
// fingerprint, setup, direction: RFC 8839 §5.4, RFC 8122 §5, RFC 3264 §5.1). Typed accessors
// skip values that do not parse; `parsed…` variants throw instead.

/// Something with an ordered `a=` list: a session or a media description.
public protocol SDPAttributeContainer {
    var attributes: [SDPAttribute] { get set }
}

extension SessionDescription: SDPAttributeContainer {}
extension MediaDescription: SDPAttributeContainer {}

extension SDPAttributeContainer {
    /// Whether an attribute of this name is present (names compare exactly, as RFC 8866 §5.13 has them case-sensitive).
    public func hasAttribute(_ name: String) -> Bool { attributes.contains { $0.name == name } }

    /// The value of the first attribute of this name; `.some(nil)` for a present property attribute.
    public func attribute(_ name: String) -> String?? {
        guard let found = attributes.first(where: { $0.name == name }) else { return nil }
        return .some(found.value)
    }

    /// The values of every attribute of this name that has one.
    public func attributeValues(_ name: String) -> [String] {
        attributes.compactMap { $0.name == name ? $0.value : nil }
    }

    public mutating func addAttribute(_ name: String, _ value: String? = nil) {
        attributes.append(SDPAttribute(name, value))
    }

    public mutating func removeAttributes(named name: String) {
        attributes.removeAll { $0.name == name }
    }

    private func parsedAll<T>(_ name: String, _ parse: (String) throws -> T) -> [T] {
        attributeValues(name).compactMap { try? parse($0) }
    }

    // MARK: Typed accessors

    public var rtpMaps: [RTPMap] { parsedAll("rtpmap", RTPMap.init(parsing:)) }
    public var formatParameters: [FormatParameters] { parsedAll("fmtp", FormatParameters.init(parsing:)) }
    public var rtcpFeedback: [RTCPFeedback] { parsedAll("rtcp-fb", RTCPFeedback.init(parsing:)) }
    public var extensionMaps: [ExtensionMap] { parsedAll("extmap", ExtensionMap.init(parsing:)) }
    public var groups: [MediaGroup] { parsedAll("group", MediaGroup.init(parsing:)) }
    public var candidates: [SDPCandidate] { parsedAll("candidate", SDPCandidate.init(parsing:)) }
    public var fingerprints: [Fingerprint] { parsedAll("fingerprint", Fingerprint.init(parsing:)) }
    public var ssrcAttributes: [SSRCAttribute] { parsedAll("ssrc", SSRCAttribute.init(parsing:)) }
    public var mediaStreamIDs: [MediaStreamID] { parsedAll("msid", MediaStreamID.init(parsing:)) }

    public func rtpMap(for payloadType: UInt8) -> RTPMap? { rtpMaps.first { $0.payloadType == payloadType } }
    public func formatParameters(for format: String) -> FormatParameters? {
        formatParameters.first { $0.format == format }
    }
    public func rtcpFeedback(for format: String) -> [RTCPFeedback] { rtcpFeedback.filter { $0.format == format } }

    /// `a=mid:` (RFC 5888 §4).
    public var mid: String? { attributeValues("mid").first }
    /// The first `a=group:BUNDLE` (RFC 8843).
    public var bundleGroup: MediaGroup? { groups.first { $0.isBundle } }

    public var iceUfrag: String? { attributeValues("ice-ufrag").first }
    public var icePwd: String? { attributeValues("ice-pwd").first }
    /// Both `a=ice-ufrag` and `a=ice-pwd`, when both are present at this level.
    public var iceCredentials: SDPICECredentials? {
        guard let iceUfrag, let icePwd else { return nil }
        return SDPICECredentials(ufrag: iceUfrag, pwd: icePwd)
    }
    /// `a=ice-options:` tokens (`trickle`, `ice2`, …).
    public var iceOptions: [String] { attributeValues("ice-options").flatMap { $0.split(separator: " ").map(String.init) } }
    /// `a=ice-lite` (session level, RFC 8839 §5.3).
    public var isICELite: Bool { hasAttribute("ice-lite") }
    public var isEndOfCandidates: Bool { hasAttribute("end-of-candidates") }

    /// `a=setup:`; nil when absent or unknown.
    public var setup: SetupRole? { attributeValues("setup").first.flatMap { SetupRole(rawValue: $0.lowercased()) } }
    /// The last direction attribute written here, if any.
    public var direction: MediaDirection? {
        attributes.last { $0.value == nil && MediaDirection(rawValue: $0.name) != nil }.flatMap {
            MediaDirection(rawValue: $0.name)
        }
    }
    public var isRTCPMux: Bool { hasAttribute("rtcp-mux") }
    public var isRTCPReducedSize: Bool { hasAttribute("rtcp-rsize") }

    /// `a=ptime:` in milliseconds (a fractional value is rounded down).
    public var ptime: Int? { attributeValues("ptime").first.flatMap(Self.milliseconds) }
    /// `a=maxptime:` in milliseconds.
    public var maxptime: Int? { attributeValues("maxptime").first.flatMap(Self.milliseconds) }

    private static func milliseconds(_ text: String) -> Int? {
        let trimmed = Substring(text).trimmingSpaces
        if let whole = Int(trimmed) { return whole }
        return Double(trimmed).flatMap { $0.isFinite && $0 >= 0 && $0 < 1e9 ? Int($0) : nil }
    }

    /// Throws on the first `a=candidate` value that does not parse.
    public func parsedCandidates() throws -> [SDPCandidate] {
        try attributeValues("candidate").map(SDPCandidate.init(parsing:))
    }

    /// Throws on the first `a=fingerprint` value that does not parse.
    public func parsedFingerprints() throws -> [Fingerprint] {
        try attributeValues("fingerprint").map(Fingerprint.init(parsing:))
    }
}

extension MediaDescription {
    /// The RTP payload type numbers on the `m=` line (non-numeric formats skipped).
    public var payloadTypes: [UInt8] { formats.compactMap { UInt8($0) } }

    /// The `c=` line that applies: this section's first, else the session's (RFC 8866 §5.7).
    public func effectiveConnection(in session: SessionDescription) -> SDPConnection? {
        connections.first ?? session.connection
    }

    /// The direction that applies: this section's, else the session's, else sendrecv (RFC 3264 §5.1).
    public func effectiveDirection(in session: SessionDescription) -> MediaDirection {
        direction ?? session.direction ?? .sendrecv
    }

    /// ICE credentials from this section, else from the session level (RFC 8839 §5.4).
    public func effectiveICECredentials(in session: SessionDescription) -> SDPICECredentials? {
        let ufrag = iceUfrag ?? session.iceUfrag
        let pwd = icePwd ?? session.icePwd
        guard let ufrag, let pwd else { return nil }
        return SDPICECredentials(ufrag: ufrag, pwd: pwd)
    }

    /// Fingerprints from this section, else from the session level (RFC 8122 §5).
    public func effectiveFingerprints(in session: SessionDescription) -> [Fingerprint] {
        let here = fingerprints
        return here.isEmpty ? session.fingerprints : here
    }

    /// `a=setup` from this section, else from the session level.
    public func effectiveSetup(in session: SessionDescription) -> SetupRole? { setup ?? session.setup }

    /// `a=ice-options` from this section, else from the session level.
    public func effectiveICEOptions(in session: SessionDescription) -> [String] {
        let here = iceOptions
        return here.isEmpty ? session.iceOptions : here
    }

    /// `a=rtcp:<port> [nettype addrtype address]` (RFC 3605): the RTCP port when not `port + 1`.
    public var rtcpPort: Int? {
        attributeValues("rtcp").first.flatMap { $0.split(separator: " ").first.flatMap { Int($0) } }
    }
}
