// The outcome of an audio offer/answer (RFC 3264), as the media engine needs it: the one codec
// both sides use, DTMF events (RFC 4733), packetization, direction, and where and how to reach
// the peer — an address and port for plain RTP, ICE (RFC 8839) and DTLS (RFC 8842) parameters for
// WebRTC.

/// The RFC 4733 telephone-event format both sides agreed on.
public struct TelephoneEventFormat: Sendable, Hashable {
    public var payloadType: UInt8
    public var clockRate: Int
    /// The events the peer accepts, as written in its fmtp (`0-16`); nil when it wrote none (0-15).
    public var events: String?

    public init(payloadType: UInt8, clockRate: Int, events: String? = nil) {
        self.payloadType = payloadType
        self.clockRate = clockRate
        self.events = events
    }
}

/// The peer's ICE parameters.
public struct RemoteICEParameters: Sendable, Hashable {
    public var credentials: SDPICECredentials
    public var candidates: [SDPCandidate]
    public var isLite: Bool
    public var options: [String]
    /// Whether the peer wrote `a=end-of-candidates`.
    public var endOfCandidates: Bool

    public init(
        credentials: SDPICECredentials, candidates: [SDPCandidate], isLite: Bool = false, options: [String] = [],
        endOfCandidates: Bool = false
    ) {
        self.credentials = credentials
        self.candidates = candidates
        self.isLite = isLite
        self.options = options
        self.endOfCandidates = endOfCandidates
    }
}

/// The peer's DTLS parameters and the role this side takes.
public struct RemoteDTLSParameters: Sendable, Hashable {
    /// The certificate fingerprints the peer may present (any one must match).
    public var fingerprints: [Fingerprint]
    /// The peer's `a=setup` as written (nil if absent).
    public var remoteSetup: SetupRole?
    /// `.active` (this side is the DTLS client) or `.passive` (this side is the server).
    public var localRole: SetupRole

    public init(fingerprints: [Fingerprint], remoteSetup: SetupRole?, localRole: SetupRole) {
        self.fingerprints = fingerprints
        self.remoteSetup = remoteSetup
        self.localRole = localRole
    }
}

/// What an audio negotiation settled.
public struct NegotiatedAudio: Sendable, Hashable {
    public var codec: AudioCodecName
    public var payloadType: UInt8
    public var clockRate: Int
    public var channels: Int
    public var telephoneEvent: TelephoneEventFormat?
    /// Milliseconds of audio per packet to send: the peer's `a=ptime`, else the local preference,
    /// never above the peer's `a=maxptime`.
    public var ptime: Int
    /// The peer's `a=maxptime`, if it wrote one.
    public var maxptime: Int?
    /// What this side does: `.recvonly` when the peer only sends, and so on.
    public var direction: MediaDirection
    /// The peer's fmtp parameters for the chosen codec (Opus `stereo`, `useinbandfec`, …).
    public var remoteFormatParameters: FormatParameters?
    /// The `a=mid` of the audio m-line, if it has one.
    public var mid: String?
    /// The index of the audio m-line in the description.
    public var mediaIndex: Int
    /// The peer's `c=` address and `m=` port (for WebRTC, its default candidate).
    public var remoteAddress: String?
    public var remotePort: Int?
    /// The peer's `a=rtcp` port (RFC 3605), when RTCP is neither muxed nor on port + 1.
    public var remoteRTCPPort: Int?
    public var rtcpMux: Bool
    public var rtcpReducedSize: Bool
    /// The header extensions both sides use (WebRTC).
    public var headerExtensions: [ExtensionMap]
    /// The first SSRC the peer announced with `a=ssrc`, if any.
    public var remoteSSRC: UInt32?
    public var remoteICE: RemoteICEParameters?
    public var remoteDTLS: RemoteDTLSParameters?

    public init(
        codec: AudioCodecName, payloadType: UInt8, clockRate: Int, channels: Int,
        telephoneEvent: TelephoneEventFormat? = nil, ptime: Int, maxptime: Int? = nil,
        direction: MediaDirection, remoteFormatParameters: FormatParameters? = nil, mid: String? = nil,
        mediaIndex: Int, remoteAddress: String? = nil, remotePort: Int? = nil, remoteRTCPPort: Int? = nil,
        rtcpMux: Bool = false, rtcpReducedSize: Bool = false, headerExtensions: [ExtensionMap] = [],
        remoteSSRC: UInt32? = nil, remoteICE: RemoteICEParameters? = nil, remoteDTLS: RemoteDTLSParameters? = nil
    ) {
        self.codec = codec
        self.payloadType = payloadType
        self.clockRate = clockRate
        self.channels = channels
        self.telephoneEvent = telephoneEvent
        self.ptime = ptime
        self.maxptime = maxptime
        self.direction = direction
        self.remoteFormatParameters = remoteFormatParameters
        self.mid = mid
        self.mediaIndex = mediaIndex
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.remoteRTCPPort = remoteRTCPPort
        self.rtcpMux = rtcpMux
        self.rtcpReducedSize = rtcpReducedSize
        self.headerExtensions = headerExtensions
        self.remoteSSRC = remoteSSRC
        self.remoteICE = remoteICE
        self.remoteDTLS = remoteDTLS
    }
}
