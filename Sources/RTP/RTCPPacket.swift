// RTCP (RFC 3550 §6) compound and reduced-size (RFC 5506) packets: SR, RR, SDES, BYE, XR
// (RFC 3611, blocks kept opaque), and RTP/AVPF feedback (RFC 4585: RTPFB 205, PSFB 206). Parsing
// returns values; writing produces the SR or RR (with SDES CNAME) Tandem sends. RTCP is a few
// packets a second, so these allocate small arrays; the RTP path does not use them.

/// One reception report block (RFC 3550 §6.4.1).
public struct RTCPReportBlock: Sendable, Equatable {
    public var ssrc: UInt32
    /// Fraction of packets lost since the previous report, in 1/256.
    public var fractionLost: UInt8
    /// Packets lost since the start (24-bit signed on the wire).
    public var cumulativeLost: Int32
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32
    /// Middle 32 bits of the NTP timestamp of the last SR received from this source.
    public var lastSenderReport: UInt32
    /// Delay since that SR, in 1/65536 s.
    public var delaySinceLastSenderReport: UInt32

    public init(ssrc: UInt32, fractionLost: UInt8, cumulativeLost: Int32, extendedHighestSequence: UInt32, jitter: UInt32,
                lastSenderReport: UInt32, delaySinceLastSenderReport: UInt32) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }
}

public struct RTCPSenderInfo: Sendable, Equatable {
    public var ntpTimestamp: UInt64
    public var rtpTimestamp: UInt32
    public var packetCount: UInt32
    public var octetCount: UInt32

    public init(ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32) {
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
    }
}

public struct RTCPSDESItem: Sendable, Equatable {
    /// 1 CNAME, 2 NAME, … 8 PRIV (RFC 3550 §6.5).
    public var type: UInt8
    public var value: [UInt8]

    public init(type: UInt8, value: [UInt8]) {
        self.type = type
        self.value = value
    }
}

public struct RTCPFeedback: Sendable, Equatable {
    /// FMT: for RTPFB 1 is generic NACK, 15 transport-wide CC; for PSFB 1 PLI, 4 FIR, 15 REMB.
    public var format: UInt8
    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public var feedbackControlInformation: [UInt8]

    public init(format: UInt8, senderSSRC: UInt32, mediaSSRC: UInt32, feedbackControlInformation: [UInt8]) {
        self.format = format
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.feedbackControlInformation = feedbackControlInformation
    }
}

public struct RTCPExtendedReportBlock: Sendable, Equatable {
    public var type: UInt8
    public var typeSpecific: UInt8
    public var content: [UInt8]

    public init(type: UInt8, typeSpecific: UInt8, content: [UInt8]) {
        self.type = type
        self.typeSpecific = typeSpecific
        self.content = content
    }
}

/// One RTCP packet of a compound packet.
public enum RTCPPacket: Sendable, Equatable {
    case senderReport(ssrc: UInt32, info: RTCPSenderInfo, reports: [RTCPReportBlock])
    case receiverReport(ssrc: UInt32, reports: [RTCPReportBlock])
    case sourceDescription([(ssrc: UInt32, items: [RTCPSDESItem])])
    case goodbye(ssrcs: [UInt32], reason: [UInt8]?)
    case extendedReport(ssrc: UInt32, blocks: [RTCPExtendedReportBlock])
    case transportFeedback(RTCPFeedback)
    case payloadFeedback(RTCPFeedback)
    case other(packetType: UInt8, count: UInt8, body: [UInt8])

    public static func == (lhs: RTCPPacket, rhs: RTCPPacket) -> Bool {
        switch (lhs, rhs) {
        case let (.senderReport(a, b, c), .senderReport(x, y, z)): return a == x && b == y && c == z
        case let (.receiverReport(a, b), .receiverReport(x, y)): return a == x && b == y
        case let (.sourceDescription(a), .sourceDescription(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.ssrc == $1.ssrc && $0.items == $1.items }
        case let (.goodbye(a, b), .goodbye(x, y)): return a == x && b == y
        case let (.extendedReport(a, b), .extendedReport(x, y)): return a == x && b == y
        case let (.transportFeedback(a), .transportFeedback(b)), let (.payloadFeedback(a), .payloadFeedback(b)): return a == b
        case let (.other(a, b, c), .other(x, y, z)): return a == x && b == y && c == z
        default: return false
        }
    }
}

public enum RTCP {
    /// Parses a compound (or reduced-size) RTCP packet. Every packet must have version 2 and a
    /// length that fits; padding is only allowed on the last one.
    public static func parse(_ bytes: [UInt8]) throws(RTPParseError) -> [RTCPPacket] {
        var packets: [RTCPPacket] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw RTPParseError("RTCP packet header truncated") }
            let first = bytes[offset]
            guard first >> 6 == 2 else { throw RTPParseError("RTCP version is not 2") }
            let count = first & 0x1F
            let type = bytes[offset + 1]
            let length = (Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3]) + 1) * 4
            guard offset + length <= bytes.count else { throw RTPParseError("RTCP length beyond the datagram") }
            var end = offset + length
            if first & 0x20 != 0 {
                guard end == bytes.count else { throw RTPParseError("RTCP padding on a packet that is not the last") }
                let padding = Int(bytes[end - 1])
                guard padding > 0, padding <= length - 4 else { throw RTPParseError("bad RTCP padding") }
                end -= padding
            }
            let body = Array(bytes[(offset + 4)..<end])
            packets.append(try parseOne(type: type, count: count, body: body))
            offset += length
        }
        guard !packets.isEmpty else { throw RTPParseError("empty RTCP packet") }
        return packets
    }

    private static func parseOne(type: UInt8, count: UInt8, body: [UInt8]) throws(RTPParseError) -> RTCPPacket {
        var reader = Reader(bytes: body)
        switch type {
        case 200:
            let ssrc = try reader.u32()
            let info = RTCPSenderInfo(ntpTimestamp: UInt64(try reader.u32()) << 32 | UInt64(try reader.u32()),
                                      rtpTimestamp: try reader.u32(), packetCount: try reader.u32(), octetCount: try reader.u32())
            return .senderReport(ssrc: ssrc, info: info, reports: try reports(count, &reader))
        case 201:
            let ssrc = try reader.u32()
            return .receiverReport(ssrc: ssrc, reports: try reports(count, &reader))
        case 202:
            var chunks: [(ssrc: UInt32, items: [RTCPSDESItem])] = []
            for _ in 0..<count {
                let ssrc = try reader.u32()
                var items: [RTCPSDESItem] = []
                while true {
                    let itemType = try reader.u8()
                    if itemType == 0 {
                        reader.alignTo4()
                        break
                    }
                    let length = Int(try reader.u8())
                    items.append(RTCPSDESItem(type: itemType, value: try reader.bytes(length)))
                }
                chunks.append((ssrc, items))
            }
            return .sourceDescription(chunks)
        case 203:
            var ssrcs: [UInt32] = []
            for _ in 0..<count { ssrcs.append(try reader.u32()) }
            var reason: [UInt8]?
            if reader.remaining > 0 {
                let length = Int(try reader.u8())
                reason = try reader.bytes(length)
            }
            return .goodbye(ssrcs: ssrcs, reason: reason)
        case 205, 206:
            let feedback = RTCPFeedback(format: count, senderSSRC: try reader.u32(), mediaSSRC: try reader.u32(),
                                        feedbackControlInformation: try reader.bytes(reader.remaining))
            return type == 205 ? .transportFeedback(feedback) : .payloadFeedback(feedback)
        case 207:
            let ssrc = try reader.u32()
            var blocks: [RTCPExtendedReportBlock] = []
            while reader.remaining > 0 {
                let blockType = try reader.u8()
                let specific = try reader.u8()
                let words = Int(try reader.u16())
                blocks.append(RTCPExtendedReportBlock(type: blockType, typeSpecific: specific, content: try reader.bytes(words * 4)))
            }
            return .extendedReport(ssrc: ssrc, blocks: blocks)
        default:
            return .other(packetType: type, count: count, body: body)
        }
    }

    private static func reports(_ count: UInt8, _ reader: inout Reader) throws(RTPParseError) -> [RTCPReportBlock] {
        var blocks: [RTCPReportBlock] = []
        for _ in 0..<count {
            let ssrc = try reader.u32()
            let lossWord = try reader.u32()
            let cumulative = Int32(bitPattern: lossWord << 8) >> 8  // sign-extend 24 bits
            blocks.append(RTCPReportBlock(
                ssrc: ssrc, fractionLost: UInt8(lossWord >> 24), cumulativeLost: cumulative,
                extendedHighestSequence: try reader.u32(), jitter: try reader.u32(),
                lastSenderReport: try reader.u32(), delaySinceLastSenderReport: try reader.u32()))
        }
        return blocks
    }

    // MARK: Writing

    /// A compound packet: SR (when `info` is given) or RR with `reports`, then SDES with CNAME.
    public static func report(ssrc: UInt32, info: RTCPSenderInfo?, reports: [RTCPReportBlock], cname: String) -> [UInt8] {
        var out: [UInt8] = []
        let blocks = Array(reports.prefix(31))
        let words = (info == nil ? 1 : 6) + 6 * blocks.count
        out.append(0x80 | UInt8(blocks.count))
        out.append(info == nil ? 201 : 200)
        append16(UInt16(words), &out)
        append32(ssrc, &out)
        if let info {
            append32(UInt32(info.ntpTimestamp >> 32), &out)
            append32(UInt32(truncatingIfNeeded: info.ntpTimestamp), &out)
            append32(info.rtpTimestamp, &out)
            append32(info.packetCount, &out)
            append32(info.octetCount, &out)
        }
        for block in blocks {
            append32(block.ssrc, &out)
            let cumulative = UInt32(bitPattern: max(-0x80_0000, min(0x7F_FFFF, block.cumulativeLost))) & 0x00FF_FFFF
            append32(UInt32(block.fractionLost) << 24 | cumulative, &out)
            append32(block.extendedHighestSequence, &out)
            append32(block.jitter, &out)
            append32(block.lastSenderReport, &out)
            append32(block.delaySinceLastSenderReport, &out)
        }
        // SDES: one chunk, CNAME item, null terminator, padded to 32 bits (RFC 3550 §6.5).
        let name = Array(cname.utf8.prefix(255))
        var chunk: [UInt8] = []
        append32(ssrc, &chunk)
        chunk.append(1)
        chunk.append(UInt8(name.count))
        chunk += name
        chunk.append(0)
        while chunk.count % 4 != 0 { chunk.append(0) }
        out.append(0x81)
        out.append(202)
        append16(UInt16(chunk.count / 4), &out)
        out += chunk
        return out
    }

    static func append16(_ value: UInt16, _ out: inout [UInt8]) {
        out.append(UInt8(value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }

    static func append32(_ value: UInt32, _ out: inout [UInt8]) {
        out.append(UInt8(value >> 24))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var remaining: Int { bytes.count - offset }

        mutating func u8() throws(RTPParseError) -> UInt8 {
            guard remaining >= 1 else { throw RTPParseError("RTCP packet truncated") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(RTPParseError) -> UInt16 {
            guard remaining >= 2 else { throw RTPParseError("RTCP packet truncated") }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func u32() throws(RTPParseError) -> UInt32 {
            guard remaining >= 4 else { throw RTPParseError("RTCP packet truncated") }
            defer { offset += 4 }
            return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
        }

        mutating func bytes(_ count: Int) throws(RTPParseError) -> [UInt8] {
            guard count >= 0, remaining >= count else { throw RTPParseError("RTCP packet truncated") }
            defer { offset += count }
            return Array(bytes[offset..<(offset + count)])
        }

        mutating func alignTo4() { offset = min(bytes.count, (offset + 3) & ~3) }
    }
}
