// What the local side wants from an audio negotiation: codecs in preference order, packetization
// (RFC 8866 §6.4, §6.5) and the Opus format parameters it writes (RFC 7587 §6.1). The application
// builds this from its configured codec profile; SDP does not depend on configuration.

/// Opus `a=fmtp` parameters Tandem writes (RFC 7587 §6.1). Parameters at their default value are
/// omitted, except `minptime` and `useinbandfec` which browsers write explicitly.
public struct OpusFormatPreferences: Sendable, Hashable {
    public var minptime: Int?
    public var useInbandFEC: Bool
    public var useDTX: Bool
    /// The highest sample rate worth sending to us (8000…48000).
    public var maxPlaybackRate: Int?
    /// The highest sample rate we capture at.
    public var spropMaxCaptureRate: Int?
    /// The most bits per second worth sending to us (6000…510000).
    public var maxAverageBitrate: Int?
    /// Whether we prefer to receive stereo.
    public var stereo: Bool

    public init(
        minptime: Int? = 10, useInbandFEC: Bool = true, useDTX: Bool = false, maxPlaybackRate: Int? = nil,
        spropMaxCaptureRate: Int? = nil, maxAverageBitrate: Int? = nil, stereo: Bool = false
    ) {
        self.minptime = minptime
        self.useInbandFEC = useInbandFEC
        self.useDTX = useDTX
        self.maxPlaybackRate = maxPlaybackRate
        self.spropMaxCaptureRate = spropMaxCaptureRate
        self.maxAverageBitrate = maxAverageBitrate
        self.stereo = stereo
    }

    /// The parameter list after `a=fmtp:<pt> `, e.g. `minptime=10;useinbandfec=1`.
    public var parameterText: String {
        var parameters: [String] = []
        if let minptime { parameters.append("minptime=\(minptime)") }
        if useInbandFEC { parameters.append("useinbandfec=1") }
        if useDTX { parameters.append("usedtx=1") }
        if let maxPlaybackRate { parameters.append("maxplaybackrate=\(maxPlaybackRate)") }
        if let spropMaxCaptureRate { parameters.append("sprop-maxcapturerate=\(spropMaxCaptureRate)") }
        if let maxAverageBitrate { parameters.append("maxaveragebitrate=\(maxAverageBitrate)") }
        if stereo { parameters.append("stereo=1") }
        return parameters.joined(separator: ";")
    }
}

/// The local codec choices for one audio leg.
public struct AudioCodecPreferences: Sendable, Hashable {
    /// Codecs in preference order; include `.telephoneEvent` to negotiate RFC 4733 DTMF.
    public var codecs: [AudioCodecName]
    /// Packetization time in milliseconds, written as `a=ptime`.
    public var ptime: Int
    /// Written as `a=maxptime` when set.
    public var maxptime: Int?
    public var opus: OpusFormatPreferences

    public init(codecs: [AudioCodecName], ptime: Int = 20, maxptime: Int? = nil, opus: OpusFormatPreferences = .init()) {
        self.codecs = codecs
        self.ptime = ptime
        self.maxptime = maxptime
        self.opus = opus
    }

    /// The audio codecs, in order, without telephone-event.
    public var audioCodecs: [AudioCodecName] { codecs.filter(\.isAudio) }
    public var wantsTelephoneEvent: Bool { codecs.contains(.telephoneEvent) }
}
