// What the control socket reports about calls, registrations and trunks (`tandemctl calls`,
// `call ID`, `registrations`, `trunks`), as plain Codable values: the daemon fills them from
// the signaling engine and the media sessions.

import Foundation

/// One line of `tandemctl calls`.
public struct CallSummary: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case id, ageSeconds = "age_seconds", from, caller, callee, trunk, state, webCodec = "web_codec", trunkCodec = "trunk_codec", media, mos
    }

    public var id: String
    public var ageSeconds: Double
    /// `web` (a browser called) or `trunk` (a trunk called a browser).
    public var from: String
    public var caller: String
    public var callee: String
    public var trunk: String?
    /// `ringing`, `answered`, `cancelling`.
    public var state: String
    /// Codec on each leg (`opus/48000`, `PCMU/8000`), once media runs.
    public var webCodec: String?
    public var trunkCodec: String?
    /// `relay` or `transcode`.
    public var media: String?
    /// The worse of the two legs' estimated MOS.
    public var mos: Double?

    public init(id: String, ageSeconds: Double, from: String, caller: String, callee: String, trunk: String?, state: String,
                webCodec: String? = nil, trunkCodec: String? = nil, media: String? = nil, mos: Double? = nil) {
        self.id = id
        self.ageSeconds = ageSeconds
        self.from = from
        self.caller = caller
        self.callee = callee
        self.trunk = trunk
        self.state = state
        self.webCodec = webCodec
        self.trunkCodec = trunkCodec
        self.media = media
        self.mos = mos
    }
}

/// One direction of a leg's media.
public struct StreamFigures: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case packets, payloadBytes = "payload_bytes", lost, lossFraction = "loss_fraction", jitterMilliseconds = "jitter_milliseconds"
    }

    public var packets: Int
    public var payloadBytes: Int
    /// Lost packets (receiving: counted here; sending: as the peer reports).
    public var lost: Int?
    public var lossFraction: Double?
    public var jitterMilliseconds: Double?

    public init(packets: Int, payloadBytes: Int, lost: Int? = nil, lossFraction: Double? = nil, jitterMilliseconds: Double? = nil) {
        self.packets = packets
        self.payloadBytes = payloadBytes
        self.lost = lost
        self.lossFraction = lossFraction
        self.jitterMilliseconds = jitterMilliseconds
    }
}

/// One leg of `tandemctl call ID`.
public struct LegDetail: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case side, local, remote, codec, payloadType = "payload_type", iceSelectedPair = "ice_selected_pair", dtlsRole = "dtls_role", srtpProfile = "srtp_profile", latched, direction, received, sent, roundTripMilliseconds = "round_trip_milliseconds", mos, dropped
    }

    /// `web` or `trunk`.
    public var side: String
    public var local: String
    public var remote: String?
    public var codec: String
    public var payloadType: Int
    /// WebRTC leg: ICE (`checking`, `connected` with the selected pair), DTLS role and SRTP profile.
    public var iceSelectedPair: String?
    public var dtlsRole: String?
    public var srtpProfile: String?
    /// RTP leg: whether it latched onto the first packet's source, and the SDP direction.
    public var latched: Bool?
    public var direction: String?
    public var received: StreamFigures
    public var sent: StreamFigures
    public var roundTripMilliseconds: Double?
    public var mos: Double?
    /// Dropped: SRTP authentication or replay failures, packets from unchecked or wrong sources.
    public var dropped: [String: Int]

    public init(side: String, local: String, remote: String?, codec: String, payloadType: Int, iceSelectedPair: String? = nil,
                dtlsRole: String? = nil, srtpProfile: String? = nil, latched: Bool? = nil, direction: String? = nil,
                received: StreamFigures, sent: StreamFigures, roundTripMilliseconds: Double? = nil, mos: Double? = nil,
                dropped: [String: Int] = [:]) {
        self.side = side
        self.local = local
        self.remote = remote
        self.codec = codec
        self.payloadType = payloadType
        self.iceSelectedPair = iceSelectedPair
        self.dtlsRole = dtlsRole
        self.srtpProfile = srtpProfile
        self.latched = latched
        self.direction = direction
        self.received = received
        self.sent = sent
        self.roundTripMilliseconds = roundTripMilliseconds
        self.mos = mos
        self.dropped = dropped
    }
}

/// `tandemctl call ID`: the call and, once media runs, both legs and the bridge.
public struct CallDetail: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case summary, startedAt = "started_at", answeredAt = "answered_at", legs, bridge
    }

    public var summary: CallSummary
    public var startedAt: Date
    public var answeredAt: Date?
    public var legs: [LegDetail]
    /// Bridge counters: relayed, transcoded_frames, concealed_frames, fec_frames, dtmf_packets,
    /// inband_digits, dropped.
    public var bridge: [String: Int]

    public init(summary: CallSummary, startedAt: Date, answeredAt: Date?, legs: [LegDetail], bridge: [String: Int]) {
        self.summary = summary
        self.startedAt = startedAt
        self.answeredAt = answeredAt
        self.legs = legs
        self.bridge = bridge
    }
}

public struct RegistrationInfo: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case user, contact, expiresInSeconds = "expires_in_seconds"
    }

    public var user: String
    public var contact: String
    public var expiresInSeconds: Double

    public init(user: String, contact: String, expiresInSeconds: Double) {
        self.user = user
        self.contact = contact
        self.expiresInSeconds = expiresInSeconds
    }
}

public struct TrunkInfo: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case name, address, availability, registration, optionsRoundTripMilliseconds = "options_round_trip_milliseconds", activeCalls = "active_calls", maxCalls = "max_calls"
    }

    public var name: String
    public var address: String
    public var availability: String
    public var registration: String
    public var optionsRoundTripMilliseconds: Double?
    public var activeCalls: Int
    public var maxCalls: Int

    public init(name: String, address: String, availability: String, registration: String, optionsRoundTripMilliseconds: Double?,
                activeCalls: Int, maxCalls: Int) {
        self.name = name
        self.address = address
        self.availability = availability
        self.registration = registration
        self.optionsRoundTripMilliseconds = optionsRoundTripMilliseconds
        self.activeCalls = activeCalls
        self.maxCalls = maxCalls
    }
}

/// One ended call of `tandemctl calls --recent`: answered or not, and why it ended.
public struct RecentCall: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case id, from, caller, callee, trunk, startedAt = "started_at", endedAt = "ended_at", durationSeconds = "duration_seconds"
        case talkSeconds = "talk_seconds", result, sipStatus = "sip_status", endedBy = "ended_by", endReason = "end_reason", media
    }

    public var id: String
    /// `web` (a browser called) or `trunk`.
    public var from: String
    public var caller: String
    public var callee: String
    public var trunk: String?
    public var startedAt: Date
    public var endedAt: Date
    public var durationSeconds: Double
    /// Seconds from the answer to the end; 0 for a call never answered.
    public var talkSeconds: Double
    /// `answered`, `cancelled`, or the SIP status code that refused the call (`486`, `503`...).
    public var result: String
    /// The final SIP status of the call's INVITE when it was refused, if known.
    public var sipStatus: Int?
    /// `web`, `trunk`, `media`, `tandem` or `operator`.
    public var endedBy: String
    /// Why: `BYE`, `486 Busy Here`, `ICE consent expired`...
    public var endReason: String
    /// `relay` or `transcode`, when media ran.
    public var media: String?

    public init(id: String, from: String, caller: String, callee: String, trunk: String?, startedAt: Date, endedAt: Date,
                durationSeconds: Double, talkSeconds: Double, result: String, sipStatus: Int?, endedBy: String, endReason: String,
                media: String? = nil) {
        self.id = id
        self.from = from
        self.caller = caller
        self.callee = callee
        self.trunk = trunk
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.durationSeconds = durationSeconds
        self.talkSeconds = talkSeconds
        self.result = result
        self.sipStatus = sipStatus
        self.endedBy = endedBy
        self.endReason = endReason
        self.media = media
    }
}
