// Audio offer/answer with WebRTC browsers (RFC 3264 with the JSEP subset of RFC 8829 §5.2–5.3):
// Tandem is an ICE-lite (RFC 8839 §5.3) DTLS-SRTP (RFC 5763, RFC 8842) endpoint with one audio
// stream, bundled (RFC 8843) and RTCP-multiplexed (RFC 5761, required).
//
//   answerWebRTCOffer  accepts the first enabled audio m-line, rejects every other m-line with
//                      port 0 and only its mid (RFC 8843 §7.3.3: rejected mids leave the BUNDLE
//                      group), and keeps rtcp-fb/fmtp/extmap only for what it kept.
//   makeWebRTCOffer    one audio m-line, mid 0, a=setup:actpass, for calls toward a browser.
//   applyWebRTCAnswer  reads the browser's answer to that offer.

/// The local side of a WebRTC leg: who we are, where we listen, and our DTLS certificate.
public struct WebRTCLocalParameters: Sendable, Hashable {
    public var origin: SDPOrigin
    public var iceCredentials: SDPICECredentials
    /// Local candidates (host ones for an ICE-lite gateway: see `SDPCandidate.host`). The first
    /// UDP candidate is the default written in `c=` and the `m=` port.
    public var candidates: [SDPCandidate]
    /// Our certificate's fingerprint.
    public var fingerprint: Fingerprint
    /// The DTLS role to answer an `actpass` offer with: `.passive` (the browser connects) or
    /// `.active`. Toward `active` we answer passive, toward `passive` active, whatever this says.
    public var setupTowardActpass: SetupRole
    /// Writes `a=ice-lite`.
    public var iceLite: Bool
    /// What we are willing to do; `.sendrecv` normally, `.sendonly`/`.inactive` to hold.
    public var direction: MediaDirection
    /// RTP header extension URIs we accept or offer, in order: by default audio level only. Not
    /// the MID extension, which Tandem never writes into its packets.
    public var headerExtensions: [String]
    /// rtcp-fb types (`nack`, `transport-cc`, …) we echo for the chosen codec; none by default.
    public var rtcpFeedback: Set<String>
    /// Our sending SSRC, written with `cname` (and `msid` when set); both optional for an answerer.
    public var ssrc: UInt32?
    public var cname: String?
    public var msid: MediaStreamID?

    public init(
        origin: SDPOrigin, iceCredentials: SDPICECredentials, candidates: [SDPCandidate], fingerprint: Fingerprint,
        setupTowardActpass: SetupRole = .passive, iceLite: Bool = true, direction: MediaDirection = .sendrecv,
        headerExtensions: [String] = [ExtensionMap.audioLevel], rtcpFeedback: Set<String> = [],
        ssrc: UInt32? = nil, cname: String? = nil, msid: MediaStreamID? = nil
    ) {
        self.origin = origin
        self.iceCredentials = iceCredentials
        self.candidates = candidates
        self.fingerprint = fingerprint
        self.setupTowardActpass = setupTowardActpass
        self.iceLite = iceLite
        self.direction = direction
        self.headerExtensions = headerExtensions
        self.rtcpFeedback = rtcpFeedback
        self.ssrc = ssrc
        self.cname = cname
        self.msid = msid
    }

    /// The default candidate's address and port (RFC 8839 §4.2.1.2), or the JSEP placeholder.
    var defaultAddress: (address: String, port: Int) {
        guard let candidate = candidates.first(where: \.isUDP) ?? candidates.first else { return ("0.0.0.0", 9) }
        return (candidate.address, candidate.port)
    }
}

/// The transport protocols of a WebRTC audio m-line Tandem accepts.
let webRTCAudioProtocols = ["UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP"]

/// Answers a browser's offer (RFC 3264 §6, RFC 8829 §5.3.1): one audio stream, everything else
/// rejected in place.
public func answerWebRTCOffer(
    _ offer: SessionDescription, local: WebRTCLocalParameters, preferences: AudioCodecPreferences
) throws -> (answer: SessionDescription, negotiated: NegotiatedAudio) {
    let audioIndex = try AudioNegotiation.audioSectionIndex(in: offer, supportedProtocols: webRTCAudioProtocols)
    let offered = offer.media[audioIndex]

    // Transport requirements.
    guard offered.isRTCPMux || offer.isRTCPMux else {
        throw SDPNegotiationError(.missingRTCPMux, "the audio stream does not offer a=rtcp-mux, which is required")
    }
    guard let credentials = offered.effectiveICECredentials(in: offer) else {
        throw SDPNegotiationError(.missingICECredentials, "the offer has no a=ice-ufrag/a=ice-pwd")
    }
    guard credentials.isValid else {
        throw SDPNegotiationError(.missingICECredentials, "the offer's a=ice-ufrag/a=ice-pwd are malformed")
    }
    let fingerprints = offered.effectiveFingerprints(in: offer)
    guard !fingerprints.isEmpty else {
        throw SDPNegotiationError(.missingFingerprint, "the offer has no usable a=fingerprint")
    }
    let remoteSetup = offered.effectiveSetup(in: offer)
    let localRole: SetupRole
    switch remoteSetup ?? .active {  // RFC 4145 §4: absent means active
    case .actpass: localRole = local.setupTowardActpass == .active ? .active : .passive
    case .active: localRole = .passive
    case .passive: localRole = .active
    case .holdconn: localRole = .holdconn
    }

    // Codecs.
    let formats = AudioNegotiation.knownFormats(of: offered)
    guard let codec = AudioNegotiation.chooseCodec(from: formats, preferences: preferences) else {
        let names = offered.rtpMaps.map { "\($0.encodingName)/\($0.clockRate)" }.joined(separator: ", ")
        throw SDPNegotiationError(
            .noCommonCodec,
            "no common audio codec (offered \(names.isEmpty ? offered.formats.joined(separator: " ") : names))")
    }
    let telephoneEvent = AudioNegotiation.chooseTelephoneEvent(
        from: formats, clockRate: codec.clockRate, preferences: preferences)
    let answeredFormats = [codec] + (telephoneEvent.map { [$0] } ?? [])
    let keptPTs = Set(answeredFormats.map { String($0.payloadType) })
    let feedback = offered.rtcpFeedback.filter { keptPTs.contains($0.format) && local.rtcpFeedback.contains($0.type) }
    let extensions = offered.extensionMaps.filter { local.headerExtensions.contains($0.uri) }.map {
        ExtensionMap(id: $0.id, uri: $0.uri)
    }
    let offeredDirection = offered.effectiveDirection(in: offer)
    let direction = offeredDirection.answer(local: local.direction)

    // The audio m-line.
    let (address, port) = local.defaultAddress
    var audio = MediaDescription(
        media: offered.media, port: port, proto: offered.proto, formats: answeredFormats.map { String($0.payloadType) })
    if let mid = offered.mid { audio.addAttribute("mid", mid) }
    audio.addAttribute("ice-ufrag", local.iceCredentials.ufrag)
    audio.addAttribute("ice-pwd", local.iceCredentials.pwd)
    audio.attributes.append(local.fingerprint.attribute)
    audio.attributes.append(localRole.attribute)
    audio.attributes += extensions.map(\.attribute)
    audio.attributes.append(direction.attribute)
    audio.addAttribute("rtcp-mux")
    if offered.isRTCPReducedSize { audio.addAttribute("rtcp-rsize") }
    audio.attributes += AudioNegotiation.codecAttributes(
        answeredFormats, preferences: preferences,
        telephoneEventEvents: telephoneEvent.flatMap {
            AudioNegotiation.telephoneEventEvents(in: offered, payloadType: $0.payloadType)
        },
        feedback: feedback)
    audio.addAttribute("ptime", String(preferences.ptime))
    if let maxptime = preferences.maxptime { audio.addAttribute("maxptime", String(maxptime)) }
    appendSourceAttributes(to: &audio, local: local)
    audio.attributes += local.candidates.map(\.attribute)
    audio.addAttribute("end-of-candidates")

    // The session.
    var answer = SessionDescription(origin: local.origin, connection: SDPConnection(address: address))
    if local.iceLite { answer.addAttribute("ice-lite") }
    if let mid = offered.mid, let group = offer.groups.first(where: { $0.isBundle && $0.identifiers.contains(mid) }) {
        answer.attributes.append(MediaGroup(semantics: group.semantics, identifiers: [mid]).attribute)
    }
    answer.media = offer.media.indices.map { $0 == audioIndex ? audio : AudioNegotiation.rejected(offer.media[$0]) }

    var negotiated = AudioNegotiation.negotiated(
        codec: codec, telephoneEvent: telephoneEvent, remote: offered, in: offer, mediaIndex: audioIndex,
        direction: direction, preferences: preferences)
    negotiated.rtcpMux = true
    negotiated.headerExtensions = extensions
    negotiated.remoteICE = RemoteICEParameters(
        credentials: credentials, candidates: offered.candidates, isLite: offer.isICELite,
        options: offered.effectiveICEOptions(in: offer), endOfCandidates: offered.isEndOfCandidates)
    negotiated.remoteDTLS = RemoteDTLSParameters(fingerprints: fingerprints, remoteSetup: remoteSetup, localRole: localRole)
    return (answer, negotiated)
}

/// An offer toward a browser (RFC 8829 §5.2.1, audio only): mid 0 bundled, rtcp-mux and
/// rtcp-rsize, `a=setup:actpass`, codecs in preference order (Opus 111, PCMU 0, PCMA 8,
/// telephone-event 110 at 48 kHz and 126 at 8 kHz).
public func makeWebRTCOffer(local: WebRTCLocalParameters, preferences: AudioCodecPreferences) -> SessionDescription {
    let formats = AudioNegotiation.offeredFormats(preferences, opusPT: 111, telephoneEvent48k: 110, telephoneEvent8k: 126)
    let (address, port) = local.defaultAddress
    var audio = MediaDescription(
        media: "audio", port: port, proto: "UDP/TLS/RTP/SAVPF", formats: formats.map { String($0.payloadType) })
    audio.addAttribute("mid", "0")
    audio.addAttribute("ice-ufrag", local.iceCredentials.ufrag)
    audio.addAttribute("ice-pwd", local.iceCredentials.pwd)
    audio.attributes.append(local.fingerprint.attribute)
    audio.attributes.append(SetupRole.actpass.attribute)
    for (offset, uri) in local.headerExtensions.enumerated() {
        audio.attributes.append(ExtensionMap(id: offset + 1, uri: uri).attribute)
    }
    audio.attributes.append(local.direction.attribute)
    audio.addAttribute("rtcp-mux")
    audio.addAttribute("rtcp-rsize")
    let feedback = formats.filter { $0.codec.isAudio }.flatMap { format in
        local.rtcpFeedback.sorted().map { RTCPFeedback(format: String(format.payloadType), type: $0) }
    }
    audio.attributes += AudioNegotiation.codecAttributes(
        formats, preferences: preferences, telephoneEventEvents: "0-16", feedback: feedback)
    audio.addAttribute("ptime", String(preferences.ptime))
    if let maxptime = preferences.maxptime { audio.addAttribute("maxptime", String(maxptime)) }
    appendSourceAttributes(to: &audio, local: local)
    audio.attributes += local.candidates.map(\.attribute)
    audio.addAttribute("end-of-candidates")

    var offer = SessionDescription(origin: local.origin, connection: SDPConnection(address: address))
    if local.iceLite { offer.addAttribute("ice-lite") }
    offer.attributes.append(MediaGroup(semantics: "BUNDLE", identifiers: ["0"]).attribute)
    offer.media = [audio]
    return offer
}

/// Reads a browser's answer to an offer from `makeWebRTCOffer` (RFC 3264 §7, RFC 8829 §5.10).
public func applyWebRTCAnswer(_ answer: SessionDescription, to offer: SessionDescription) throws -> NegotiatedAudio {
    let audioIndex = try AudioNegotiation.audioSectionIndex(in: offer, supportedProtocols: webRTCAudioProtocols)
    let offered = offer.media[audioIndex]
    let answered = try AudioNegotiation.answeredSection(answer, offer: offer, audioIndex: audioIndex)
    guard answered.proto.uppercased() == offered.proto.uppercased() else {
        throw SDPNegotiationError(.unsupportedProtocol, "the answer changed the audio transport to \(answered.proto)")
    }
    guard answered.isRTCPMux || answer.isRTCPMux else {
        throw SDPNegotiationError(.missingRTCPMux, "the answer does not accept a=rtcp-mux, which is required")
    }
    guard let credentials = answered.effectiveICECredentials(in: answer), credentials.isValid else {
        throw SDPNegotiationError(.missingICECredentials, "the answer has no valid a=ice-ufrag/a=ice-pwd")
    }
    let fingerprints = answered.effectiveFingerprints(in: answer)
    guard !fingerprints.isEmpty else {
        throw SDPNegotiationError(.missingFingerprint, "the answer has no usable a=fingerprint")
    }
    let remoteSetup = answered.effectiveSetup(in: answer)
    let localRole: SetupRole
    switch remoteSetup ?? .active {
    case .active: localRole = .passive
    case .passive: localRole = .active
    case .holdconn: localRole = .holdconn
    case .actpass: throw SDPNegotiationError(.invalidAnswer, "the answer says a=setup:actpass, which only an offer may")
    }

    let (codec, telephoneEvent) = try AudioNegotiation.answeredFormats(answer: answered, offer: offered)
    let direction = AudioNegotiation.directionAfterAnswer(
        offered: offered.effectiveDirection(in: offer), answered: answered.effectiveDirection(in: answer))
    let offeredURIs = Set(offered.extensionMaps.map(\.uri))
    var negotiated = AudioNegotiation.negotiated(
        codec: codec, telephoneEvent: telephoneEvent, remote: answered, in: answer, mediaIndex: audioIndex,
        direction: direction, preferences: preferencesForReading(offered))
    negotiated.mid = answered.mid ?? offered.mid
    negotiated.rtcpMux = true
    negotiated.headerExtensions = answered.extensionMaps.filter { offeredURIs.contains($0.uri) }
    negotiated.remoteICE = RemoteICEParameters(
        credentials: credentials, candidates: answered.candidates, isLite: answer.isICELite,
        options: answered.effectiveICEOptions(in: answer), endOfCandidates: answered.isEndOfCandidates)
    negotiated.remoteDTLS = RemoteDTLSParameters(fingerprints: fingerprints, remoteSetup: remoteSetup, localRole: localRole)
    return negotiated
}

/// The preferences implied by our own offer, for the ptime fallback when reading an answer.
func preferencesForReading(_ offered: MediaDescription) -> AudioCodecPreferences {
    AudioCodecPreferences(codecs: [], ptime: offered.ptime ?? 20, maxptime: offered.maxptime)
}

/// `a=msid` and `a=ssrc` lines for our sending source, when we have one, whatever the direction:
/// a hold answer (`recvonly`, `inactive`) keeps them. Chromium (156) drops every packet of a
/// stream whose source vanished from a hold answer and came back, same SSRC, in the resume
/// answer: the receiver stays "live" and its packet count stops. JsSIP and SIP.js in Chromium
/// had no audio after hold and resume until the source stayed (LibraryMatrixTests, hold-resume).
private func appendSourceAttributes(to media: inout MediaDescription, local: WebRTCLocalParameters) {
    if let msid = local.msid { media.attributes.append(msid.attribute) }
    guard let ssrc = local.ssrc else { return }
    if let cname = local.cname { media.attributes.append(SSRCAttribute(ssrc: ssrc, name: "cname", value: cname).attribute) }
    if let msid = local.msid {
        media.attributes.append(SSRCAttribute(ssrc: ssrc, name: "msid", value: msid.attributeValue).attribute)
    }
}
