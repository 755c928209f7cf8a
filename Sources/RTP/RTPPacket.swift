// RTP fixed header (RFC 3550 §5.1) read in place from a datagram and written into a caller's
// buffer, and the first-byte demultiplexing of RFC 7983 §7 (STUN, DTLS, RTP/RTCP on one port) with
// RTP/RTCP told apart by payload type (RFC 5761 §4). No allocation: a parsed header is offsets
// and fields; the payload stays where it arrived.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//  |                           timestamp                           |
//  |           synchronization source (SSRC) identifier            |
//  |            contributing source (CSRC) identifiers (CC)        |
//  |  extension: profile (16) | length in words (16) | data ...     |

/// What kind of packet a datagram on a WebRTC port is (RFC 7983 §7, RFC 5761 §4).
public enum PacketKind: Sendable, Equatable {
    case stun
    case dtls
    case rtp
    case rtcp
    case unknown

    /// Classifies a datagram by its first bytes.
    public static func classify<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes) -> PacketKind {
        guard let first = bytes.first else { return .unknown }
        switch first {
        case 0...3: return .stun
        case 20...63: return .dtls
        case 128...191:
            guard bytes.count >= 2 else { return .unknown }
            let second = bytes[bytes.index(after: bytes.startIndex)]
            // RTCP packet types 192-223 land on the second byte with the marker bit (RFC 5761 §4).
            return (192...223).contains(second) ? .rtcp : .rtp
        default: return .unknown
        }
    }
}

/// Why an RTP or RTCP packet was refused.
public struct RTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The parsed fixed header of an RTP packet, with where its payload lies.
public struct RTPHeader: Sendable, Equatable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcCount: Int
    /// The header extension's profile and its data range, when the X bit is set.
    public var extensionProfile: UInt16?
    public var extensionRange: Range<Int>?
    /// Where the payload starts and ends in the packet (padding excluded).
    public var payloadRange: Range<Int>
    public var paddingLength: Int

    /// Bytes before the payload.
    public var headerLength: Int { payloadRange.lowerBound }

    /// Reads the header of `packet`; the payload is not copied.
    public init(parsing packet: UnsafeRawBufferPointer) throws(RTPParseError) {
        guard packet.count >= 12 else { throw RTPParseError("RTP packet shorter than 12 bytes") }
        let first = packet[0]
        guard first >> 6 == 2 else { throw RTPParseError("RTP version is not 2") }
        let hasPadding = first & 0x20 != 0
        let hasExtension = first & 0x10 != 0
        csrcCount = Int(first & 0x0F)
        marker = packet[1] & 0x80 != 0
        payloadType = packet[1] & 0x7F
        sequenceNumber = RTPHeader.read16(packet, 2)
        timestamp = RTPHeader.read32(packet, 4)
        ssrc = RTPHeader.read32(packet, 8)
        var offset = 12 + 4 * csrcCount
        guard packet.count >= offset else { throw RTPParseError("RTP packet shorter than its CSRC list") }
        if hasExtension {
            guard packet.count >= offset + 4 else { throw RTPParseError("RTP header extension truncated") }
            extensionProfile = RTPHeader.read16(packet, offset)
            let words = Int(RTPHeader.read16(packet, offset + 2))
            let start = offset + 4
            offset = start + 4 * words
            guard packet.count >= offset else { throw RTPParseError("RTP header extension longer than the packet") }
            extensionRange = start..<offset
        } else {
            extensionProfile = nil
            extensionRange = nil
        }
        paddingLength = 0
        if hasPadding {
            let count = Int(packet[packet.count - 1])
            guard count > 0, packet.count - count >= offset else { throw RTPParseError("bad RTP padding length") }
            paddingLength = count
        }
        payloadRange = offset..<(packet.count - paddingLength)
    }

    /// Parses from an array (for tests and slow paths).
    public init(parsing packet: [UInt8]) throws(RTPParseError) {
        let result: Result<RTPHeader, RTPParseError> = packet.withUnsafeBytes { raw in
            Result { () throws(RTPParseError) in try RTPHeader(parsing: raw) }
        }
        self = try result.get()
    }

    /// Writes a 12-byte fixed header (no CSRC, no extension, no padding) at the start of `buffer`.
    public static func write(marker: Bool, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
                             into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= 12, "RTP header buffer too small")
        buffer[0] = 0x80
        buffer[1] = (marker ? 0x80 : 0) | (payloadType & 0x7F)
        write16(sequenceNumber, buffer, 2)
        write32(timestamp, buffer, 4)
        write32(ssrc, buffer, 8)
    }

    @inline(__always)
    static func read16(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt16 { UInt16(p[at]) << 8 | UInt16(p[at + 1]) }

    @inline(__always)
    static func read32(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(p[at]) << 24 | UInt32(p[at + 1]) << 16 | UInt32(p[at + 2]) << 8 | UInt32(p[at + 3])
    }

    @inline(__always)
    static func write16(_ value: UInt16, _ p: UnsafeMutableRawBufferPointer, _ at: Int) {
        p[at] = UInt8(value >> 8)
        p[at + 1] = UInt8(truncatingIfNeeded: value)
    }

    @inline(__always)
    static func write32(_ value: UInt32, _ p: UnsafeMutableRawBufferPointer, _ at: Int) {
        p[at] = UInt8(value >> 24)
        p[at + 1] = UInt8(truncatingIfNeeded: value >> 16)
        p[at + 2] = UInt8(truncatingIfNeeded: value >> 8)
        p[at + 3] = UInt8(truncatingIfNeeded: value)
    }
}
