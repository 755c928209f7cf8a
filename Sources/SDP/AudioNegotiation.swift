// Pieces shared by the WebRTC and plain-RTP offer/answer: resolving payload types to the codecs
// Tandem knows (rtpmap, or the RFC 3551 static types 0 and 8 when no rtpmap is written), choosing
// one codec by local preference and telephone-event at its clock (RFC 4733 §7.1.1), picking the
// audio m-line to accept, writing the codec attributes, and rejecting m-lines (RFC 3264 §6: port 0,
// the m-line kept in place).

/// A payload type resolved to a known codec.
struct AudioFormat: Sendable, Hashable {
    var payloadType: UInt8
    var codec: AudioCodecName
    var clockRate: Int
    var channels: Int

    var rtpMap: RTPMap {
        RTPMap(
            payloadType: payloadType, encodingName: codec.encodingName, clockRate: clockRate,
            channels: codec == .opus ? 2 : nil)
    }
}

enum AudioNegotiation {
    /// The formats of an m-line that map to known codecs, in m-line order.
    static func knownFormats(of media: MediaDescription) -> [AudioFormat] {
        let maps = media.rtpMaps
        return media.payloadTypes.compactMap { pt in
            if let map = maps.first(where: { $0.payloadType == pt }) {
                guard let codec = codec(for: map) else { return nil }
                return AudioFormat(payloadType: pt, codec: codec, clockRate: map.clockRate, channels: map.channels ?? 1)
            }
            guard let codec = AudioCodecName.allCases.first(where: { $0.staticPayloadType == pt }) else { return nil }
            return AudioFormat(payloadType: pt, codec: codec, clockRate: codec.clockRate, channels: 1)
        }
    }

    /// The codec an rtpmap names, if Tandem knows it at that clock rate (Opus only as `opus/48000/2`).
    static func codec(for map: RTPMap) -> AudioCodecName? {
        switch map.encodingName.lowercased() {
        case "opus":
            return map.clockRate == 48000 && (map.channels == nil || map.channels == 2) ? .opus : nil
        case "pcmu":
            return map.clockRate == 8000 && (map.channels ?? 1) == 1 ? .pcmu : nil
        case "pcma":
            return map.clockRate == 8000 && (map.channels ?? 1) == 1 ? .pcma : nil
        case "telephone-event":
            return .telephoneEvent
        default:
            return nil
        }
    }

    /// The first offered format of the most preferred audio codec.
    static func chooseCodec(from offered: [AudioFormat], preferences: AudioCodecPreferences) -> AudioFormat? {
        for codec in preferences.audioCodecs {
            if let format = offered.first(where: { $0.codec == codec }) { return format }
        }
        return nil
    }

    /// telephone-event at the chosen codec's clock, if both sides want it.
    static func chooseTelephoneEvent(
        from offered: [AudioFormat], clockRate: Int, preferences: AudioCodecPreferences
    ) -> AudioFormat? {
        guard preferences.wantsTelephoneEvent else { return nil }
        return offered.first { $0.codec == .telephoneEvent && $0.clockRate == clockRate }
    }

    /// The index of the audio m-line to accept: the first enabled one whose protocol is supported.
    static func audioSectionIndex(
        in description: SessionDescription, supportedProtocols: [String]
    ) throws -> Int {
        let audio = description.media.indices.filter {
            description.media[$0].media.lowercased() == "audio" && description.media[$0].port != 0
        }
        guard !audio.isEmpty else {
            throw SDPNegotiationError(.noAudio, "the offer has no enabled audio stream")
        }
        let supported = Set(supportedProtocols.map { $0.uppercased() })
        guard let index = audio.first(where: { supported.contains(description.media[$0].proto.uppercased()) }) else {
            let offered = Set(audio.map { description.media[$0].proto }).sorted().joined(separator: ", ")
            throw SDPNegotiationError(
                .unsupportedProtocol,
                "audio transport \(offered) is not supported here (expected \(supportedProtocols.joined(separator: " or ")))")
        }
        return index
    }

    /// An m-line answered as rejected: port 0, the offered protocol and first format, and only its mid.
    static func rejected(_ offered: MediaDescription) -> MediaDescription {
        var media = MediaDescription(
            media: offered.media, port: 0, proto: offered.proto, formats: Array(offered.formats.prefix(1)))
        if let mid = offered.mid { media.addAttribute("mid", mid) }
        return media
    }

    /// rtpmap and fmtp lines for the answered or offered formats, with rtcp-fb lines in between
    /// when given, in the order browsers write them.
    static func codecAttributes(
        _ formats: [AudioFormat], preferences: AudioCodecPreferences, telephoneEventEvents: String?,
        feedback: [RTCPFeedback] = []
    ) -> [SDPAttribute] {
        var attributes: [SDPAttribute] = []
        for format in formats {
            attributes.append(format.rtpMap.attribute)
            for item in feedback where item.format == String(format.payloadType) { attributes.append(item.attribute) }
            switch format.codec {
            case .opus:
                let text = preferences.opus.parameterText
                if !text.isEmpty {
                    attributes.append(FormatParameters(format: String(format.payloadType), parameterText: text).attribute)
                }
            case .telephoneEvent:
                if let events = telephoneEventEvents {
                    attributes.append(FormatParameters(format: String(format.payloadType), parameterText: events).attribute)
                }
            case .pcmu, .pcma:
                break
            }
        }
        return attributes
    }

    /// The packetization to send with: the peer's ptime, else ours, capped by the peer's maxptime.
    static func sendingPtime(remote: MediaDescription, preferences: AudioCodecPreferences) -> Int {
        var ptime = remote.ptime ?? preferences.ptime
        if let maxptime = remote.maxptime, maxptime > 0 { ptime = min(ptime, maxptime) }
        return ptime
    }

    /// The events the peer's telephone-event fmtp lists, if it wrote one.
    static func telephoneEventEvents(in media: MediaDescription, payloadType: UInt8) -> String? {
        guard let fmtp = media.formatParameters(for: String(payloadType)), !fmtp.parameterText.isEmpty else { return nil }
        return fmtp.parameterText
    }

    /// The negotiated audio common to both flavours, from the peer's m-line.
    static func negotiated(
        codec: AudioFormat, telephoneEvent: AudioFormat?, remote: MediaDescription, in remoteSession: SessionDescription,
        mediaIndex: Int, direction: MediaDirection, preferences: AudioCodecPreferences
    ) -> NegotiatedAudio {
        NegotiatedAudio(
            codec: codec.codec, payloadType: codec.payloadType, clockRate: codec.clockRate, channels: codec.channels,
            telephoneEvent: telephoneEvent.map {
                TelephoneEventFormat(
                    payloadType: $0.payloadType, clockRate: $0.clockRate,
                    events: telephoneEventEvents(in: remote, payloadType: $0.payloadType))
            },
            ptime: sendingPtime(remote: remote, preferences: preferences), maxptime: remote.maxptime,
            direction: direction, remoteFormatParameters: remote.formatParameters(for: String(codec.payloadType)),
            mid: remote.mid, mediaIndex: mediaIndex,
            remoteAddress: remote.effectiveConnection(in: remoteSession)?.address, remotePort: remote.port,
            remoteRTCPPort: remote.rtcpPort, rtcpMux: remote.isRTCPMux, rtcpReducedSize: remote.isRTCPReducedSize,
            remoteSSRC: remote.ssrcAttributes.first?.ssrc)
    }

    /// The dynamic payload types Tandem offers (Chrome's numbers for Opus and telephone-event).
    static func offeredFormats(_ preferences: AudioCodecPreferences, opusPT: UInt8, telephoneEvent48k: UInt8, telephoneEvent8k: UInt8)
        -> [AudioFormat]
    {
        var formats: [AudioFormat] = []
        for codec in preferences.audioCodecs where !formats.contains(where: { $0.codec == codec }) {
            let pt = codec.staticPayloadType ?? opusPT
            formats.append(
                AudioFormat(payloadType: pt, codec: codec, clockRate: codec.clockRate, channels: codec == .opus ? 2 : 1))
        }
        if preferences.wantsTelephoneEvent {
            if formats.contains(where: { $0.codec == .opus }) {
                formats.append(AudioFormat(payloadType: telephoneEvent48k, codec: .telephoneEvent, clockRate: 48000, channels: 1))
            }
            if formats.contains(where: { $0.clockRate == 8000 }) {
                formats.append(AudioFormat(payloadType: telephoneEvent8k, codec: .telephoneEvent, clockRate: 8000, channels: 1))
            }
        }
        return formats
    }

    /// Reads an answer's audio m-line against the offer: the codec must be one offered.
    static func answeredFormats(
        answer: MediaDescription, offer: MediaDescription
    ) throws -> (codec: AudioFormat, telephoneEvent: AudioFormat?) {
        let offered = knownFormats(of: offer)
        let answered = knownFormats(of: answer).filter { format in
            offered.contains { $0.payloadType == format.payloadType && $0.codec == format.codec }
        }
        guard let codec = answered.first(where: { $0.codec.isAudio }) else {
            throw SDPNegotiationError(.noCommonCodec, "the answer chose no audio codec that was offered")
        }
        let telephoneEvent = answered.first { $0.codec == .telephoneEvent && $0.clockRate == codec.clockRate }
        return (codec, telephoneEvent)
    }

    /// This side's direction after an answer: what it offered, narrowed by what the peer answered.
    static func directionAfterAnswer(offered: MediaDirection, answered: MediaDirection) -> MediaDirection {
        MediaDirection(sends: offered.sends && answered.receives, receives: offered.receives && answered.sends)
    }

    /// Checks that an answer has one m-line per offered m-line (RFC 3264 §6) and returns the answered audio one.
    static func answeredSection(
        _ answer: SessionDescription, offer: SessionDescription, audioIndex: Int
    ) throws -> MediaDescription {
        guard answer.media.count == offer.media.count else {
            throw SDPNegotiationError(
                .invalidAnswer, "the answer has \(answer.media.count) m-lines for \(offer.media.count) offered")
        }
        let media = answer.media[audioIndex]
        guard media.media.lowercased() == "audio" else {
            throw SDPNegotiationError(.invalidAnswer, "m-line \(audioIndex) of the answer is not audio")
        }
        guard media.port != 0 else { throw SDPNegotiationError(.noAudio, "the answer rejected the audio stream") }
        return media
    }
}
