// Audio offer/answer with SIP trunks and phones over plain RTP (RFC 3264, RTP/AVP per RFC 3551):
// `c=` and the `m=` port say where to send, rtpmap/ptime describe the codec, telephone-event
// 101 with `0-16` carries DTMF (RFC 4733). The first enabled RTP/AVP (or RTP/AVPF) audio m-line
// is accepted; every other m-line is rejected in place with port 0 (RFC 3264 §6). An offer whose
// connection address is 0.0.0.0 is the old RFC 2543 hold and is read as "do not send to me".

/// The transport protocols of a plain audio m-line Tandem accepts.
let plainAudioProtocols = ["RTP/AVP", "RTP/AVPF"]

/// An offer toward a trunk: one RTP/AVP audio m-line with the codecs in preference order
/// (PCMU 0, PCMA 8, Opus 96), telephone-event 101 at 8 kHz (and 100 at 48 kHz beside Opus).
/// `origin` must keep its session id and raise its version on every new offer of a session.
public func makePlainOffer(
    address: String, port: Int, preferences: AudioCodecPreferences, origin: SDPOrigin,
    direction: MediaDirection = .sendrecv
) -> SessionDescription {
    let formats = AudioNegotiation.offeredFormats(preferences, opusPT: 96, telephoneEvent48k: 100, telephoneEvent8k: 101)
    var audio = MediaDescription(media: "audio", port: port, proto: "RTP/AVP", formats: formats.map { String($0.payloadType) })
    audio.attributes = AudioNegotiation.codecAttributes(formats, preferences: preferences, telephoneEventEvents: "0-16")
    audio.addAttribute("ptime", String(preferences.ptime))
    if let maxptime = preferences.maxptime { audio.addAttribute("maxptime", String(maxptime)) }
    audio.attributes.append(direction.attribute)
    return SessionDescription(origin: origin, connection: SDPConnection(address: address), media: [audio])
}

/// Answers a trunk's offer with one codec (and telephone-event at its clock when offered).
public func answerPlainOffer(
    _ offer: SessionDescription, address: String, port: Int, preferences: AudioCodecPreferences, origin: SDPOrigin,
    direction localDirection: MediaDirection = .sendrecv
) throws -> (answer: SessionDescription, negotiated: NegotiatedAudio) {
    let audioIndex = try AudioNegotiation.audioSectionIndex(in: offer, supportedProtocols: plainAudioProtocols)
    let offered = offer.media[audioIndex]
    let formats = AudioNegotiation.knownFormats(of: offered)
    guard let codec = AudioNegotiation.chooseCodec(from: formats, preferences: preferences) else {
        throw SDPNegotiationError(
            .noCommonCodec, "no common audio codec (offered formats \(offered.formats.joined(separator: " ")))")
    }
    let telephoneEvent = AudioNegotiation.chooseTelephoneEvent(
        from: formats, clockRate: codec.clockRate, preferences: preferences)
    let answeredFormats = [codec] + (telephoneEvent.map { [$0] } ?? [])

    var offeredDirection = offered.effectiveDirection(in: offer)
    if let connection = offered.effectiveConnection(in: offer), isUnspecifiedAddress(connection.address) {
        offeredDirection = MediaDirection(sends: offeredDirection.sends, receives: false)
    }
    let direction = offeredDirection.answer(local: localDirection)

    var audio = MediaDescription(
        media: offered.media, port: port, proto: offered.proto, formats: answeredFormats.map { String($0.payloadType) })
    audio.attributes = AudioNegotiation.codecAttributes(
        answeredFormats, preferences: preferences,
        telephoneEventEvents: telephoneEvent.map {
            AudioNegotiation.telephoneEventEvents(in: offered, payloadType: $0.payloadType) ?? "0-16"
        })
    audio.addAttribute("ptime", String(preferences.ptime))
    if let maxptime = preferences.maxptime { audio.addAttribute("maxptime", String(maxptime)) }
    if offered.isRTCPMux { audio.addAttribute("rtcp-mux") }
    audio.attributes.append(direction.attribute)

    var answer = SessionDescription(origin: origin, connection: SDPConnection(address: address))
    answer.media = offer.media.indices.map { $0 == audioIndex ? audio : AudioNegotiation.rejected(offer.media[$0]) }

    let negotiated = AudioNegotiation.negotiated(
        codec: codec, telephoneEvent: telephoneEvent, remote: offered, in: offer, mediaIndex: audioIndex,
        direction: direction, preferences: preferences)
    return (answer, negotiated)
}

/// Reads a trunk's answer to an offer from `makePlainOffer`.
public func applyPlainAnswer(_ answer: SessionDescription, to offer: SessionDescription) throws -> NegotiatedAudio {
    let audioIndex = try AudioNegotiation.audioSectionIndex(in: offer, supportedProtocols: plainAudioProtocols)
    let offered = offer.media[audioIndex]
    let answered = try AudioNegotiation.answeredSection(answer, offer: offer, audioIndex: audioIndex)
    guard answered.proto.uppercased() == offered.proto.uppercased() else {
        throw SDPNegotiationError(.unsupportedProtocol, "the answer changed the audio transport to \(answered.proto)")
    }
    guard answered.effectiveConnection(in: answer) != nil else {
        throw SDPNegotiationError(.invalidAnswer, "the answer has no c= line for the audio stream")
    }
    let (codec, telephoneEvent) = try AudioNegotiation.answeredFormats(answer: answered, offer: offered)
    var answeredDirection = answered.effectiveDirection(in: answer)
    if let connection = answered.effectiveConnection(in: answer), isUnspecifiedAddress(connection.address) {
        answeredDirection = MediaDirection(sends: answeredDirection.sends, receives: false)
    }
    let direction = AudioNegotiation.directionAfterAnswer(
        offered: offered.effectiveDirection(in: offer), answered: answeredDirection)
    var negotiated = AudioNegotiation.negotiated(
        codec: codec, telephoneEvent: telephoneEvent, remote: answered, in: answer, mediaIndex: audioIndex,
        direction: direction, preferences: preferencesForReading(offered))
    negotiated.rtcpMux = offered.isRTCPMux && answered.isRTCPMux
    return negotiated
}

/// 0.0.0.0 (or ::), the RFC 2543 way of putting a call on hold.
private func isUnspecifiedAddress(_ address: String) -> Bool {
    address == "0.0.0.0" || address == "::"
}
