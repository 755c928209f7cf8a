// The browser side of one call on one UDP socket, sans-IO: datagrams are demultiplexed by their
// first byte (RFC 7983): STUN to the ICE-lite agent, DTLS to the DTLS endpoint, SRTP and SRTCP to
// libsrtp once DTLS has produced keys (RFC 5764). The security rules of RFC 8445/7675/8827 hold
// here: DTLS and media are accepted only from addresses that passed an ICE check, media is sent
// only to the selected pair while consent lasts, and nothing is sent before DTLS is connected.
// The IO driver owns the socket and the clock and carries out what this returns.

import DTLS
import ICE
import NIOCore
import RTP
import SRTP


/// What happened on a WebRTC leg.
public enum WebRTCLegEvent: Sendable, Equatable {
    /// ICE selected (or switched to) this remote address.
    case selected(SocketAddress)
    /// DTLS is up with this SRTP profile; media can flow.
    case connected(SRTPProtectionProfile)
    /// The leg cannot continue: the cause goes into the BYE's Reason header.
    case failed(MediaFailureCause)
}

/// Counters for call detail status.
public struct WebRTCLegCounters: Sendable, Equatable {
    public var rtpReceived = 0
    public var rtcpReceived = 0
    public var rtpSent = 0
    /// SRTP or SRTCP that failed authentication or replay checks (dropped).
    public var srtpDropped = 0
    /// Datagrams from addresses that never passed an ICE check (dropped).
    public var unpermittedDropped = 0
    public var unknownDropped = 0
}

/// What the driver must do after an input.
public struct WebRTCLegOutput: Sendable {
    /// Datagrams to send, with their destination.
    public var datagrams: [(bytes: [UInt8], to: SocketAddress)] = []
    public var events: [WebRTCLegEvent] = []
    /// Decrypted RTP packets for the bridge.
    public var rtp: [[UInt8]] = []
    /// Decrypted RTCP compound packets.
    public var rtcp: [[UInt8]] = []

    public init() {}

    mutating func append(_ other: WebRTCLegOutput) {
        datagrams += other.datagrams
        events += other.events
        rtp += other.rtp
        rtcp += other.rtcp
    }
}

/// What a leg's fast path made of a datagram in its receive buffer (see `WebRTCLegCore.receiveRTP`
/// and `RTPLegCore.receiveRTP`).
public enum InPlaceRTP {
    /// Not media in the steady state (STUN, DTLS, RTCP, a source to latch): the general path's.
    case other
    /// Dropped and counted.
    case dropped
    /// A plain RTP packet of `length` bytes at the start of the buffer.
    case rtp(length: Int, header: RTPHeader)
}

/// What call detail status shows of a WebRTC leg.
public struct WebRTCLegStatus: Sendable, Equatable {
    public var selected: SocketAddress?
    public var profile: SRTPProtectionProfile?
    public var counters: WebRTCLegCounters
    public var received: ReceptionSummary?
    /// The browser's latest report on Tandem's stream: fraction lost (0-1) and jitter in ms.
    public var remoteFractionLost: Double?
    public var remoteJitterMilliseconds: Double?
    public var roundTripMilliseconds: Double?
    /// RTP payload bytes sent.
    public var payloadBytesSent: UInt64
    /// From the first DTLS datagram to keys, once connected.
    public var dtlsHandshakeMilliseconds: Double?
    /// What the ICE agent answered, refused and policed.
    public var ice = ICEAgentStatistics()
}

public final class WebRTCLegCore {
    private var ice: ICELiteAgent
    private let dtls: DTLSEndpoint
    private var dtlsStarted = false
    private var inbound: SRTPSession?
    private var outbound: SRTPSession?
    private var selected: SocketAddress?
    private var dtlsPeer: SocketAddress?
    private var dtlsBegan: NIODeadline?
    private var dtlsHandshake: TimeAmount?
    public private(set) var counters = WebRTCLegCounters()
    public private(set) var profile: SRTPProtectionProfile?
    private var failed = false
    /// When the browser's DTLS close_notify came. A browser that hangs up closes its peer
    /// connection, and its BYE may come just before or just after: only a close with no BYE
    /// within ``closeGrace`` (the call still up) is a media failure.
    private var peerClosedAt: NIODeadline?
    public static let closeGrace = TimeAmount.seconds(2)

    // RTCP (RFC 3550 §6): what Tandem reports about the browser's stream and its own.
    private let localSSRC: UInt32
    private let cname: String
    private let clockRate: Int
    private let reportInterval: TimeAmount
    private let unixTime: @Sendable () -> Double
    private var remoteSSRC: UInt32?
    private var statistics: ReceiveStatistics
    private var sentPackets: UInt32 = 0
    private var sentOctets: UInt32 = 0
    private var payloadBytesSent: UInt64 = 0
    private var lastSentTimestamp: UInt32 = 0
    private var lastSentAt: NIODeadline?
    private var nextReport: NIODeadline?
    /// The browser's last reception report about Tandem's stream (for call detail status).
    public private(set) var remoteReport: RTCPReportBlock?
    /// Round-trip time from the browser's last report that referred to one of our SRs.
    public private(set) var roundTripMilliseconds: Double?

    /// - Parameters:
    ///   - dtlsRole: `.server` when Tandem answered `setup:passive` (toward an actpass offer),
    ///     `.client` when it is `active`.
    ///   - localSSRC, cname, clockRate: Tandem's stream toward the browser, for RTCP reports.
    ///   - reportInterval: how often SR/RR go out once connected.
    public init(ice: ICELiteAgent, certificate: DTLSCertificate, dtlsRole: DTLSRole, srtpProfiles: [SRTPProtectionProfile],
                remoteFingerprint: CertificateFingerprint, localSSRC: UInt32 = UInt32.random(in: 1...UInt32.max), cname: String = "tandem",
                clockRate: Int = 48000, reportInterval: TimeAmount = .seconds(2),
                unixTime: @escaping @Sendable () -> Double = NTPTime.unixNow) throws {
        self.ice = ice
        dtls = try DTLSEndpoint(role: dtlsRole, certificate: certificate, srtpProfiles: srtpProfiles, expectedRemoteFingerprint: remoteFingerprint)
        self.localSSRC = localSSRC
        self.cname = cname
        self.clockRate = clockRate
        self.reportInterval = reportInterval
        self.unixTime = unixTime
        statistics = ReceiveStatistics(clockRate: clockRate)
    }


    public var localICECredentials: ICECredentials { ice.localCredentials }

    public var status: WebRTCLegStatus {
        WebRTCLegStatus(selected: selected, profile: profile, counters: counters, received: remoteSSRC.map { _ in statistics.summary },
                        remoteFractionLost: remoteReport.map { Double($0.fractionLost) / 256 },
                        remoteJitterMilliseconds: remoteReport.map { Double($0.jitter) * 1000 / Double(clockRate) },
                        roundTripMilliseconds: roundTripMilliseconds, payloadBytesSent: payloadBytesSent,
                        dtlsHandshakeMilliseconds: dtlsHandshake.map { Double($0.nanoseconds) / 1e6 }, ice: ice.statistics)
    }

    /// ICE restart (RFC 8445 §9): new credentials on both sides; the selected pair is kept while
    /// it has consent.
    public func restartICE(local: ICECredentials, remoteUfrag: String, remotePassword: String, now: NIODeadline) -> WebRTCLegOutput {
        var output = WebRTCLegOutput()
        guard !failed else { return output }
        handle(ice.restart(localCredentials: local, remoteUfrag: remoteUfrag, remotePassword: remotePassword, now: now), into: &output, now: now)
        return output
    }

    /// Whether SRTP keys exist and a pair is selected: media can be sent.
    public var isConnected: Bool { outbound != nil && selected != nil && !failed && peerClosedAt == nil }

    public var nextDeadline: NIODeadline? {
        guard !failed else { return nil }
        if let peerClosedAt { return peerClosedAt + Self.closeGrace }
        return earliest(earliest(ice.nextDeadline, dtls.nextDeadline), isConnected ? nextReport : nil)
    }

    // MARK: Input

    /// Handles one datagram from `source` that arrived on the leg's socket.
    public func receive(_ datagram: [UInt8], from source: SocketAddress, now: NIODeadline) -> WebRTCLegOutput {
        var output = WebRTCLegOutput()
        guard !failed else { return output }
        switch PacketKind.classify(datagram) {
        case .stun:
            guard let remote = ICETransportAddress(source) else { return output }
            handle(ice.receive(datagram, from: remote, now: now), into: &output, now: now)
        case .dtls:
            guard ice.permitted(source) else {
                counters.unpermittedDropped += 1
                return output
            }
            // Until ICE nominates a pair, DTLS answers go back where the handshake comes from
            // (an address that passed a check): a browser may start DTLS before it nominates.
            dtlsPeer = source
            if dtlsBegan == nil { dtlsBegan = now }
            handle(dtls.receive(datagram, now: now), into: &output, now: now)
        case .rtp:
            var packet = datagram
            let outcome = packet.withUnsafeMutableBytes { receiveRTP(inPlace: $0, length: $0.count, from: source, now: now) }
            if case .rtp(let length, _) = outcome {
                packet.removeLast(packet.count - length)
                output.rtp.append(packet)
            }
        case .rtcp:
            guard ice.permitted(source), let inbound else {
                counters.unpermittedDropped += 1
                return output
            }
            var packet = datagram
            do {
                try inbound.unprotectRTCP(&packet)
                counters.rtcpReceived += 1
                for report in (try? RTCP.parse(packet)) ?? [] {
                    switch report {
                    case .senderReport(let ssrc, let info, let blocks):
                        if ssrc == remoteSSRC { statistics.receivedSenderReport(ntpTimestamp: info.ntpTimestamp, at: now) }
                        if let block = blocks.first(where: { $0.ssrc == localSSRC }) { reported(block) }
                    case .receiverReport(_, let blocks):
                        if let block = blocks.first(where: { $0.ssrc == localSSRC }) { reported(block) }
                    default:
                        break
                    }
                }
                output.rtcp.append(packet)
            } catch {
                counters.srtpDropped += 1
            }
        case .unknown:
            counters.unknownDropped += 1
        }
        return output
    }

    /// SRTP from the browser, decrypted where it lies (the first `length` bytes of `buffer`):
    /// `.rtp` with the plain packet's length and header (parsed once, here), `.dropped`, or
    /// `.other` for what is not SRTP (STUN, DTLS, SRTCP), which `receive` handles.
    public func receiveRTP(inPlace buffer: UnsafeMutableRawBufferPointer, length: Int, from source: SocketAddress,
                           now: NIODeadline) -> InPlaceRTP {
        guard !failed, PacketKind.classify(UnsafeRawBufferPointer(rebasing: buffer[..<length])) == .rtp else { return .other }
        guard ice.permitted(source), let inbound else {
            counters.unpermittedDropped += 1
            return .dropped
        }
        guard let plain = try? inbound.unprotect(rtp: buffer, length: length) else {
            counters.srtpDropped += 1
            return .dropped
        }
        counters.rtpReceived += 1
        guard let header = try? RTPHeader(parsing: UnsafeRawBufferPointer(rebasing: buffer[..<plain])) else { return .dropped }
        if remoteSSRC != header.ssrc {
            remoteSSRC = header.ssrc
            statistics = ReceiveStatistics(clockRate: clockRate)
        }
        statistics.received(sequence: header.sequenceNumber, rtpTimestamp: header.timestamp, arrival: now, payloadBytes: header.payloadRange.count)
        return .rtp(length: plain, header: header)
    }

    /// Encrypts and sends an RTP packet to the selected pair; nothing before DTLS is up. The
    /// packet's SSRC should be the leg's `localSSRC` for the reports to describe it.
    public func send(rtp packet: [UInt8], now: NIODeadline = .now()) -> WebRTCLegOutput {
        var output = WebRTCLegOutput()
        guard let header = try? RTPHeader(parsing: packet) else { return output }
        var protected = packet
        protected.append(contentsOf: repeatElement(0, count: SRTPSession.rtpTrailerCapacity))
        guard let (length, destination) = protected.withUnsafeMutableBytes({
            sendRTP(inPlace: $0, length: packet.count, header: header, now: now)
        }) else { return output }
        protected.removeLast(protected.count - length)
        output.datagrams.append((protected, destination))
        return output
    }

    /// Encrypts an RTP packet where it lies (the first `length` bytes of `buffer`, which has room
    /// for the SRTP trailer): the protected length and the selected pair to send it to, or nil
    /// when nothing may be sent yet.
    public func sendRTP(inPlace buffer: UnsafeMutableRawBufferPointer, length: Int, header: RTPHeader,
                        now: NIODeadline) -> (length: Int, to: SocketAddress)? {
        guard isConnected, let outbound, let selected, let protected = try? outbound.protect(rtp: buffer, length: length) else { return nil }
        counters.rtpSent += 1
        sentPackets &+= 1
        sentOctets &+= UInt32(header.payloadRange.count)
        payloadBytesSent += UInt64(header.payloadRange.count)
        lastSentTimestamp = header.timestamp
        lastSentAt = now
        return (protected, selected)
    }

    /// Encrypts and sends an RTCP compound packet to the selected pair.
    public func send(rtcp packet: [UInt8]) -> WebRTCLegOutput {
        var output = WebRTCLegOutput()
        guard isConnected, let outbound, let selected else { return output }
        var protected = packet
        guard (try? outbound.protectRTCP(&protected)) != nil else { return output }
        output.datagrams.append((protected, selected))
        return output
    }

    /// Runs the ICE and DTLS timers that are due.
    public func timeout(now: NIODeadline) -> WebRTCLegOutput {
        var output = WebRTCLegOutput()
        guard !failed else { return output }
        if let peerClosedAt {
            if now >= peerClosedAt + Self.closeGrace { fail(.dtlsClosedByPeer, into: &output) }
            return output
        }
        if let deadline = ice.nextDeadline, deadline <= now { handle(ice.timeout(now: now), into: &output, now: now) }
        if let deadline = dtls.nextDeadline, deadline <= now { handle(dtls.timeout(now: now), into: &output, now: now) }
        if isConnected, let deadline = nextReport, deadline <= now {
            nextReport = now + reportInterval
            output.append(send(rtcp: report(now: now)))
        }
        return output
    }

    /// The compound RTCP packet Tandem sends: an SR once it has sent media (with the RTP
    /// timestamp that matches the NTP time, RFC 3550 §6.4.1), else an RR; a report block about
    /// the browser's stream; SDES CNAME.
    public func report(now: NIODeadline) -> [UInt8] {
        var blocks: [RTCPReportBlock] = []
        if let remoteSSRC { blocks.append(statistics.reportBlock(ssrc: remoteSSRC, now: now)) }
        var info: RTCPSenderInfo?
        if let lastSentAt, sentPackets > 0 {
            let elapsed = UInt64(max(0, (now - lastSentAt).nanoseconds))
            let timestamp = lastSentTimestamp &+ UInt32(truncatingIfNeeded: elapsed * UInt64(clockRate) / 1_000_000_000)
            info = RTCPSenderInfo(ntpTimestamp: NTPTime.timestamp(unixSeconds: unixTime()), rtpTimestamp: timestamp,
                                  packetCount: sentPackets, octetCount: sentOctets)
        }
        return RTCP.report(ssrc: localSSRC, info: info, reports: blocks, cname: cname)
    }

    // MARK: Helpers

    private func reported(_ block: RTCPReportBlock) {
        remoteReport = block
        if let rtt = CallQuality.roundTripMilliseconds(block, arrivalNTP: NTPTime.timestamp(unixSeconds: unixTime())) {
            roundTripMilliseconds = rtt
        }
    }

    private func handle(_ result: ICEAgentOutput, into output: inout WebRTCLegOutput, now: NIODeadline) {
        for datagram in result.datagrams {
            output.datagrams.append((datagram.bytes, datagram.destination.socketAddress))
        }
        for event in result.events {
            switch event {
            case .selected(let remote):
                selected = remote.socketAddress
                output.events.append(.selected(remote.socketAddress))
                // As DTLS client, the handshake starts once there is a checked path (RFC 8842 §5).
                if dtls.role == .client && !dtlsStarted {
                    dtlsStarted = true
                    dtlsBegan = now
                    handle(dtls.start(now: now), into: &output, now: now)
                }
            case .failed:
                fail(.iceChecksFailed, into: &output)
            case .consentExpired:
                fail(.iceConsentExpired, into: &output)
            }
        }
    }

    private func handle(_ result: DTLSOutput, into output: inout WebRTCLegOutput, now: NIODeadline) {
        if let destination = selected ?? dtlsPeer {
            for datagram in result.datagrams { output.datagrams.append((datagram, destination)) }
        }
        for event in result.events {
            switch event {
            case .connected(let profile, let keys):
                do {
                    inbound = try SRTPSession(profile: profile, keyingMaterial: keys, role: dtls.role, direction: .inbound)
                    outbound = try SRTPSession(profile: profile, keyingMaterial: keys, role: dtls.role, direction: .outbound)
                    self.profile = profile
                    if let dtlsBegan { dtlsHandshake = now - dtlsBegan }
                    nextReport = now + reportInterval
                    output.events.append(.connected(profile))
                } catch {
                    fail(MediaFailureCause.srtpSetupFailed.withDetail("\(error)"), into: &output)
                }
            case .failed(let failure):
                fail(.dtls(failure), into: &output)
            case .closed:
                if peerClosedAt == nil { peerClosedAt = now }
            }
        }
    }

    private func fail(_ cause: MediaFailureCause, into output: inout WebRTCLegOutput) {
        guard !failed else { return }
        failed = true
        output.events.append(.failed(cause))
    }
}
