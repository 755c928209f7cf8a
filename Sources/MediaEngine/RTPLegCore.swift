// The trunk side of one call: plain RTP/RTCP (RFC 3550) on a UDP port pair, sans-IO. Symmetric
// RTP with latching (RFC 4961; the SDP's address is a hint, NAT makes the first packet's source
// the truth) unless strict source checking is configured; RTCP on the next port or muxed
// (RFC 5761); SR/RR every interval; a media timeout that ends the call when the peer should be
// sending and is not; hold and resume through the SDP direction (RFC 3264 §8.4).

import NIOCore
import RTP


public enum RTPLegEvent: Sendable, Equatable {
    /// Media is now sent to this address (the first packet's source).
    case latched(SocketAddress)
    /// No RTP for the media timeout while the peer should be sending.
    case mediaTimeout
}

public struct RTPLegCounters: Sendable, Equatable {
    public var rtpReceived = 0
    public var rtcpReceived = 0
    public var rtpSent = 0
    /// Packets from an address other than the latched (or, strict, the signalled) one.
    public var wrongSourceDropped = 0
    public var malformedDropped = 0
}

public struct RTPLegOutput: Sendable {
    public var datagrams: [(bytes: [UInt8], to: SocketAddress)] = []
    public var events: [RTPLegEvent] = []
    public var rtp: [[UInt8]] = []
    public var rtcp: [[UInt8]] = []
    public init() {}
}

/// What call detail status shows of an RTP leg.
public struct RTPLegStatus: Sendable, Equatable {
    public var remote: SocketAddress
    public var latched: Bool
    public var direction: RTPLegCore.Direction
    public var counters: RTPLegCounters
    public var received: ReceptionSummary?
    /// The trunk's last report on Tandem's stream: fraction lost (0-1), and the round trip.
    public var remoteFractionLost: Double?
    public var roundTripMilliseconds: Double?
    public var payloadBytesSent: UInt64
}

public final class RTPLegCore {
    public struct Settings: Sendable {
        public var strictSource: Bool
        public var mediaTimeout: TimeAmount
        public var rtcpMux: Bool
        public var clockRate: Int
        public var reportInterval: TimeAmount

        public init(strictSource: Bool = false, mediaTimeout: TimeAmount = .seconds(60), rtcpMux: Bool = false, clockRate: Int = 8000,
                    reportInterval: TimeAmount = .seconds(5)) {
            self.strictSource = strictSource
            self.mediaTimeout = mediaTimeout
            self.rtcpMux = rtcpMux
            self.clockRate = clockRate
            self.reportInterval = reportInterval
        }
    }

    /// Our direction, as in our SDP: whether we send and whether the peer should.
    public enum Direction: Sendable, Equatable { case sendrecv, sendonly, recvonly, inactive }

    public let settings: Settings
    public let localSSRC: UInt32
    private var remote: SocketAddress
    private var latched = false
    public private(set) var direction: Direction = .sendrecv
    public private(set) var counters = RTPLegCounters()
    private var statistics: ReceiveStatistics
    private var remoteSSRC: UInt32?
    private var lastReceived: NIODeadline
    private var nextReport: NIODeadline
    private var sentPackets: UInt32 = 0
    private var sentOctets: UInt32 = 0
    private var lastSentTimestamp: UInt32 = 0
    private var lastSentAt: NIODeadline?
    private var timedOut = false
    private var remoteReport: RTCPReportBlock?
    private var roundTripMilliseconds: Double?
    private var payloadBytesSent: UInt64 = 0
    private let cname: String

    /// - Parameter remote: the address in the peer's SDP (c= and m= port).
    public init(remote: SocketAddress, settings: Settings = Settings(), localSSRC: UInt32 = UInt32.random(in: 1...UInt32.max),
                cname: String = "tandem", now: NIODeadline) {
        self.remote = remote
        self.settings = settings
        self.localSSRC = localSSRC
        self.cname = cname
        statistics = ReceiveStatistics(clockRate: settings.clockRate)
        lastReceived = now
        nextReport = now + settings.reportInterval
    }

    /// Where RTP goes now.
    public var remoteAddress: SocketAddress { remote }

    /// Where RTCP goes: the same address with rtcp-mux, else the next port (kept with `remote`,
    /// since the RTP leg driver asks for it on every packet).
    public private(set) lazy var remoteRTCPAddress: SocketAddress = Self.rtcpAddress(for: remote, mux: settings.rtcpMux)

    private static func rtcpAddress(for remote: SocketAddress, mux: Bool) -> SocketAddress {
        guard !mux, let port = remote.port, let host = remote.ipAddress,
            let address = try? SocketAddress(ipAddress: host, port: port + 1)
        else { return remote }
        return address
    }

    private func setRemoteAddress(_ address: SocketAddress) {
        remote = address
        remoteRTCPAddress = Self.rtcpAddress(for: address, mux: settings.rtcpMux)
    }

    /// A new address from the peer's SDP (a re-INVITE): latching starts again.
    public func setRemote(_ address: SocketAddress) {
        guard !sameHostAndPort(address, remote) else { return }
        setRemoteAddress(address)
        latched = false
    }

    public var status: RTPLegStatus {
        RTPLegStatus(remote: remote, latched: latched, direction: direction, counters: counters,
                     received: remoteSSRC.map { _ in statistics.summary }, remoteFractionLost: remoteReport.map { Double($0.fractionLost) / 256 },
                     roundTripMilliseconds: roundTripMilliseconds, payloadBytesSent: payloadBytesSent)
    }

    /// Hold and resume: our SDP direction after an offer/answer.
    public func setDirection(_ direction: Direction, now: NIODeadline) {
        self.direction = direction
        lastReceived = now  // the timeout counts from the change
    }

    /// Whether the peer is expected to send (media timeout applies).
    private var expectingMedia: Bool { direction == .sendrecv || direction == .recvonly }

    public var nextDeadline: NIODeadline? {
        guard !timedOut else { return nextReport }
        return expectingMedia ? min(nextReport, lastReceived + settings.mediaTimeout) : nextReport
    }

    // MARK: Input

    /// A datagram on the RTP port (`rtcpPort: false`) or the RTCP port.
    public func receive(_ datagram: [UInt8], from source: SocketAddress, rtcpPort: Bool = false, now: NIODeadline) -> RTPLegOutput {
        var output = RTPLegOutput()
        let kind = PacketKind.classify(datagram)
        guard kind == .rtp || kind == .rtcp else {
            counters.malformedDropped += 1
            return output
        }
        // Latching: the first RTP packet's source becomes the destination (symmetric RTP).
        if kind == .rtp && !rtcpPort {
            if settings.strictSource || latched {
                guard sameHostAndPort(source, remote) else {
                    counters.wrongSourceDropped += 1
                    return output
                }
            } else {
                latched = true
                if !sameHostAndPort(source, remote) {
                    setRemoteAddress(source)
                    output.events.append(.latched(source))
                }
            }
        } else if settings.strictSource || latched {
            guard source.sameHost(as: remote) else {
                counters.wrongSourceDropped += 1
                return output
            }
        }
        if kind == .rtp && !rtcpPort {
            guard let header = try? RTPHeader(parsing: datagram) else {
                counters.malformedDropped += 1
                return output
            }
            received(header, now: now)
            output.rtp.append(datagram)
        } else {
            guard let packets = try? RTCP.parse(datagram) else {
                counters.malformedDropped += 1
                return output
            }
            for packet in packets {
                var blocks: [RTCPReportBlock] = []
                switch packet {
                case .senderReport(let ssrc, let info, let reports):
                    if ssrc == remoteSSRC { statistics.receivedSenderReport(ntpTimestamp: info.ntpTimestamp, at: now) }
                    blocks = reports
                case .receiverReport(_, let reports):
                    blocks = reports
                default:
                    break
                }
                if let block = blocks.first(where: { $0.ssrc == localSSRC }) {
                    remoteReport = block
                    if let rtt = CallQuality.roundTripMilliseconds(block, arrivalNTP: NTPTime.timestamp(unixSeconds: NTPTime.unixNow())) {
                        roundTripMilliseconds = rtt
                    }
                }
            }
            counters.rtcpReceived += 1
            output.rtcp.append(datagram)
        }
        return output
    }

    /// RTP from the trunk in the steady state, read where it lies: `.rtp` with its header (parsed
    /// once, here) when it comes from the latched (or expected) source to the RTP port, `.dropped`,
    /// or `.other` for what `receive` handles (RTCP, a first packet to latch on, a moved source).
    public func receiveRTP(inPlace packet: UnsafeRawBufferPointer, from source: SocketAddress, now: NIODeadline) -> InPlaceRTP {
        guard settings.strictSource || latched, PacketKind.classify(packet) == .rtp else { return .other }
        guard sameHostAndPort(source, remote) else {
            counters.wrongSourceDropped += 1
            return .dropped
        }
        guard let header = try? RTPHeader(parsing: packet) else {
            counters.malformedDropped += 1
            return .dropped
        }
        received(header, now: now)
        return .rtp(length: packet.count, header: header)
    }

    private func received(_ header: RTPHeader, now: NIODeadline) {
        if remoteSSRC != header.ssrc {
            remoteSSRC = header.ssrc
            statistics = ReceiveStatistics(clockRate: settings.clockRate)
        }
        statistics.received(sequence: header.sequenceNumber, rtpTimestamp: header.timestamp, arrival: now, payloadBytes: header.payloadRange.count)
        counters.rtpReceived += 1
        lastReceived = now
        timedOut = false
    }

    /// Sends an RTP packet to the peer, unless we are on hold (recvonly or inactive).
    public func send(rtp packet: [UInt8], now: NIODeadline) -> RTPLegOutput {
        var output = RTPLegOutput()
        guard let header = try? RTPHeader(parsing: packet), let destination = sendRTP(header, now: now) else { return output }
        output.datagrams.append((packet, destination))
        return output
    }

    /// Where an RTP packet with `header` goes (counted as sent), or nil on hold.
    public func sendRTP(_ header: RTPHeader, now: NIODeadline) -> SocketAddress? {
        guard direction == .sendrecv || direction == .sendonly else { return nil }
        sentPackets &+= 1
        sentOctets &+= UInt32(header.payloadRange.count)
        payloadBytesSent += UInt64(header.payloadRange.count)
        lastSentTimestamp = header.timestamp
        lastSentAt = now
        counters.rtpSent += 1
        return remote
    }

    /// RTCP reports and the media timeout.
    public func timeout(now: NIODeadline, unixTime: Double = NTPTime.unixNow()) -> RTPLegOutput {
        var output = RTPLegOutput()
        if expectingMedia && !timedOut && now - lastReceived >= settings.mediaTimeout {
            timedOut = true
            output.events.append(.mediaTimeout)
        }
        if now >= nextReport {
            nextReport = now + settings.reportInterval
            var info: RTCPSenderInfo?
            if let lastSentAt, sentPackets > 0 {
                let elapsed = UInt64(max(0, (now - lastSentAt).nanoseconds))
                info = RTCPSenderInfo(ntpTimestamp: NTPTime.timestamp(unixSeconds: unixTime),
                                      rtpTimestamp: lastSentTimestamp &+ UInt32(truncatingIfNeeded: elapsed * UInt64(settings.clockRate) / 1_000_000_000),
                                      packetCount: sentPackets, octetCount: sentOctets)
            }
            let blocks = remoteSSRC.map { [statistics.reportBlock(ssrc: $0, now: now)] } ?? []
            output.datagrams.append((RTCP.report(ssrc: localSSRC, info: info, reports: blocks, cname: cname), remoteRTCPAddress))
        }
        return output
    }


    private func sameHostAndPort(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        a.sameHost(as: b) && a.port == b.port
    }
}

extension SocketAddress {
    /// Whether both are the same IP address, compared as bytes (no text formatting: this runs
    /// for every packet).
    func sameHost(as other: SocketAddress) -> Bool {
        switch (self, other) {
        case (.v4(let a), .v4(let b)):
            return a.address.sin_addr.s_addr == b.address.sin_addr.s_addr
        case (.v6(let a), .v6(let b)):
            return withUnsafeBytes(of: a.address.sin6_addr) { x in withUnsafeBytes(of: b.address.sin6_addr) { y in x.elementsEqual(y) } }
        default:
            return false
        }
    }
}
