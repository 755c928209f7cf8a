// One call's media as the session manager sees it: the profiles and ports it was given, the
// offers and answers on both sides, and the running legs once both sides have answered.

import AudioCodecs
import DTLS
import ICE
import MediaEngine
import NIOCore
import SDP
import TandemConfig

struct CallMedia {
    let id: String
    let trunk: Trunk?
    let webInterface: MediaInterface
    let trunkInterface: MediaInterface
    let webProfile: CodecProfile
    let trunkProfile: CodecProfile
    let dtlsProfile: DTLSProfile
    let certificate: DTLSCertificate
    let cname: String
    let mediaTimeout: Duration
    let strictSource: Bool
    /// How often the call's sockets are read when it transcodes, and when it relays (zero: as
    /// each datagram arrives).
    let readIntervals: (transcoded: Duration, relayed: Duration)

    var worker: Int?
    var loop: MediaLoop?
    var webPort = 9
    var trunkPort = 9
    var localICE = ICECredentials.generate()
    let webSSRC = UInt32.random(in: 1...UInt32.max)
    let trunkSSRC = UInt32.random(in: 1...UInt32.max)
    var webOrigin: SDPOrigin
    var trunkOrigin: SDPOrigin

    /// The browser's offer (a call from the browser), or ours to it (a call toward it).
    var webOffer: SessionDescription?
    var ourWebOffer: SessionDescription?
    /// The trunk's offer (a call from the trunk), or ours to it.
    var trunkOffer: SessionDescription?
    var ourTrunkOffer: SessionDescription?
    var webNegotiated: NegotiatedAudio?
    var trunkNegotiated: NegotiatedAudio?
    /// The answer Tandem sent to the caller.
    var answerSent: String?
    var pending: PendingOffer?

    var media: MediaCall?
    /// The WebRTC leg's socket, bound as soon as the call has its port, before any answer.
    var listening: Task<WebRTCLeg?, Never>?
    var starting = false
    /// The start of the call's media, while it opens its sockets and after.
    var start: Task<Void, Never>?
    var released = false

    init(id: String, trunk: Trunk?, webInterface: MediaInterface, trunkInterface: MediaInterface, webProfile: CodecProfile,
         trunkProfile: CodecProfile, dtlsProfile: DTLSProfile, certificate: DTLSCertificate, node: String, mediaTimeout: Duration,
         strictSource: Bool, readIntervals: (transcoded: Duration, relayed: Duration)) {
        self.id = id
        self.trunk = trunk
        self.webInterface = webInterface
        self.trunkInterface = trunkInterface
        self.webProfile = webProfile
        self.trunkProfile = trunkProfile
        self.dtlsProfile = dtlsProfile
        self.certificate = certificate
        cname = "tandem-\(node)"
        self.mediaTimeout = mediaTimeout
        self.strictSource = strictSource
        self.readIntervals = readIntervals
        let sessionID = String(UInt64.random(in: 1...UInt64(Int64.max)))
        webOrigin = SDPOrigin(username: "tandem", sessionID: sessionID, sessionVersion: 1,
                              addressType: SDPConnection.addressType(of: webInterface.sdpAddress), address: webInterface.sdpAddress)
        trunkOrigin = SDPOrigin(username: "tandem", sessionID: sessionID, sessionVersion: 1,
                                addressType: SDPConnection.addressType(of: trunkInterface.sdpAddress), address: trunkInterface.sdpAddress)
    }

    /// What operators see of the call's media.
    var info: MediaCallInfo {
        let name = { (n: NegotiatedAudio?) in n.map { "\($0.codec.encodingName)/\($0.clockRate)" } }
        return MediaCallInfo(
            webCodec: name(webNegotiated), webPayloadType: webNegotiated.map { Int($0.payloadType) },
            trunkCodec: name(trunkNegotiated), trunkPayloadType: trunkNegotiated.map { Int($0.payloadType) },
            webLocal: "\(webInterface.sdpAddress):\(webPort)", trunkLocal: "\(trunkInterface.sdpAddress):\(trunkPort)",
            trunkRemote: trunkNegotiated.flatMap { n in n.remoteAddress.map { "\($0):\(n.remotePort ?? 0)" } },
            dtlsRole: webNegotiated?.remoteDTLS.map { $0.localRole == .active ? "client (active)" : "server (passive)" },
            mode: webNegotiated.flatMap { w in trunkNegotiated.map { $0.codec == w.codec ? "relay" : "transcode" } })
    }

    /// The trunk-side origin for a new SDP: same session id, next version (RFC 3264 §8).
    mutating func nextTrunkOrigin() -> SDPOrigin {
        trunkOrigin.sessionVersion += 1
        return trunkOrigin
    }

    /// Tandem's side of the WebRTC leg as SDP describes it.
    func webLocal(port: Int) -> WebRTCLocalParameters {
        let ours = certificate.fingerprint(dtlsProfile.fingerprintHash)
        let fingerprint = (try? Fingerprint(hashFunction: ours.hash.rawValue, hex: ours.value)) ?? Fingerprint(hashFunction: ours.hash.rawValue, bytes: [])
        return WebRTCLocalParameters(
            origin: webOrigin, iceCredentials: SDPICECredentials(ufrag: localICE.ufrag, pwd: localICE.password),
            candidates: [.host(address: webInterface.sdpAddress, port: port)], fingerprint: fingerprint,
            ssrc: webSSRC, cname: cname, msid: MediaStreamID(streamID: "tandem", trackID: "audio"))
    }

    /// The web codec profile; `narrowband` tells the browser to capture and send 8 kHz Opus
    /// (RFC 7587 §6.1), for calls whose other side is G.711.
    func webPreferences(narrowband: Bool) -> AudioCodecPreferences {
        AudioCodecPreferences(codecs: webProfile.codecs, ptime: webProfile.ptime, opus: OpusFormatPreferences(
            useInbandFEC: webProfile.opus.inbandFEC, useDTX: webProfile.opus.dtx, maxPlaybackRate: narrowband ? 8000 : nil,
            spropMaxCaptureRate: narrowband ? 8000 : nil, maxAverageBitrate: webProfile.opus.bitrate))
    }

    func trunkPreferences() -> AudioCodecPreferences {
        var codecs = trunkProfile.codecs
        if trunk?.dtmf != .rfc4733 { codecs.removeAll { $0 == .telephoneEvent } }
        return AudioCodecPreferences(codecs: codecs, ptime: trunkProfile.ptime)
    }

    /// Everything the media needs, checked here so a bad answer is a 488 and not a dead call.
    func makeStart() throws -> MediaCallStart {
        guard let web = webNegotiated, let trunk = trunkNegotiated, let loop else {
            throw SDPNegotiationError(.invalidAnswer, "the call's media is not negotiated")
        }
        guard let webCodec = BridgeCodec(web.codec), let trunkCodec = BridgeCodec(trunk.codec) else {
            throw SDPNegotiationError(.noCommonCodec, "no audio codec Tandem can bridge")
        }
        guard let ice = web.remoteICE, let dtls = web.remoteDTLS else {
            throw SDPNegotiationError(.missingICECredentials, "the browser's SDP has no ICE or DTLS parameters")
        }
        let role: DTLSRole
        switch dtls.localRole {
        case .active: role = .client
        case .passive, .actpass: role = .server
        case .holdconn: throw SDPNegotiationError(.invalidAnswer, "a=setup:holdconn is not supported")
        }
        guard let remote = dtls.fingerprints.lazy.compactMap({ print -> CertificateFingerprint? in
            FingerprintHash(rawValue: print.hashFunction).map { CertificateFingerprint(hash: $0, value: print.hexValue) }
        }).first else {
            throw SDPNegotiationError(.missingFingerprint, "no a=fingerprint with sha-256, sha-384 or sha-512")
        }
        let plan = MediaCallPlan(
            webAddress: webInterface.address, webPort: webPort, trunkAddress: trunkInterface.address, trunkPort: trunkPort,
            web: BridgeStream(codec: webCodec, payloadType: web.payloadType, telephoneEvent: web.telephoneEvent.map { ($0.payloadType, $0.clockRate) },
                              ptime: 20, ssrc: webSSRC),
            trunk: BridgeStream(codec: trunkCodec, payloadType: trunk.payloadType,
                                telephoneEvent: trunk.telephoneEvent.map { ($0.payloadType, $0.clockRate) }, ptime: trunk.ptime, ssrc: trunkSSRC),
            opus: OpusEncoderSettings(sampleRate: 8000, bitrate: Int32(webProfile.opus.bitrate), complexity: Int32(webProfile.opus.complexity),
                                      inbandFEC: webProfile.opus.inbandFEC, dtx: webProfile.opus.dtx),
            detectInbandDTMF: self.trunk?.dtmf == .inband,
            readInterval: Self.readInterval(webCodec == trunkCodec ? readIntervals.relayed : readIntervals.transcoded))

        let (certificate, srtpProfiles, localICE, cname, webSSRC, trunkSSRC) = (self.certificate, dtlsProfile.srtpProfiles, self.localICE, cname, webSSRC, trunkSSRC)
        let localCandidate = (try? SocketAddress(ipAddress: webInterface.sdpAddress, port: webPort)) ?? (try? SocketAddress(ipAddress: webInterface.address, port: webPort))
        let remoteRTP = trunk.remoteAddress.flatMap { address in
            (try? SocketAddress(ipAddress: address, port: trunk.remotePort ?? 9)) ?? (try? SocketAddress.makeAddressResolvingHost(address, port: trunk.remotePort ?? 9))
        } ?? (try! SocketAddress(ipAddress: "0.0.0.0", port: 9))
        let settings = RTPLegCore.Settings(strictSource: strictSource, mediaTimeout: TimeAmount(mediaTimeout), rtcpMux: trunk.rtcpMux,
                                           clockRate: trunkCodec.clockRate)
        let direction = RTPLegCore.Direction(trunk.direction)
        return MediaCallStart(
            plan: plan, loop: loop,
            webCore: {
                let agent = ICELiteAgent(
                    localUfrag: localICE.ufrag, localPassword: localICE.password, remoteUfrag: ice.credentials.ufrag,
                    remotePassword: ice.credentials.pwd, localCandidates: localCandidate.flatMap(ICETransportAddress.init).map { [ICECandidate(address: $0)] } ?? [],
                    now: .now())
                return try WebRTCLegCore(ice: agent, certificate: certificate, dtlsRole: role, srtpProfiles: srtpProfiles, remoteFingerprint: remote,
                                         localSSRC: webSSRC, cname: cname, clockRate: webCodec.clockRate)
            },
            trunkCore: {
                let core = RTPLegCore(remote: remoteRTP, settings: settings, localSSRC: trunkSSRC, cname: cname, now: .now())
                core.setDirection(direction, now: .now())
                return core
            })
    }
}

extension BridgeCodec {
    init?(_ codec: AudioCodecName) {
        switch codec {
        case .opus: self = .opus
        case .pcmu: self = .pcmu
        case .pcma: self = .pcma
        case .telephoneEvent: return nil
        }
    }
}

extension CallMedia {
    /// A configured read interval for the media engine: nil for zero (read on arrival).
    static func readInterval(_ duration: Duration) -> TimeAmount? {
        duration > .zero ? TimeAmount(duration) : nil
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// A call's media for call detail status.
public struct MediaCallInfo: Sendable {
    public var webCodec: String?
    public var webPayloadType: Int?
    public var trunkCodec: String?
    public var trunkPayloadType: Int?
    public var webLocal: String
    public var trunkLocal: String
    public var trunkRemote: String?
    public var dtlsRole: String?
    public var mode: String?
    /// Both legs and the bridge, once the media runs.
    public var status: MediaCallStatus?
}
