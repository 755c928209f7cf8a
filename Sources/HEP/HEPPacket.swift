// HEP version 3 (the Extensible Encapsulation Protocol, EEP) encoder: one captured SIP message
// and the facts about it (addresses, ports, time, capture agent) as the chunks a capture server
// such as Homer or sngrep reads. Sans-IO: a value in, bytes out; the caller sends the datagram.
//
// Layout (sipcapture "HEP3 Network Protocol Specification", github.com/sipcapture/HEP, also the
// EEP Internet-Draft by Dubovikov and Hänel):
//
//   0      4        6
//   +------+--------+---------------------------------------+
//   |"HEP3"| length | chunk | chunk | ...                   |   length: the whole packet, octets
//   +------+--------+---------------------------------------+
//
//   chunk: vendor id (u16) | type id (u16) | length (u16, the chunk's 6 header octets included) | value
//
// Generic chunks (vendor 0x0000) written here, in network byte order: 1 IP family (u8: 2 IPv4,
// 10 IPv6), 2 IP protocol (u8: 17 UDP, 6 TCP), 3/4 IPv4 source/destination, 5/6 IPv6
// source/destination, 7/8 source/destination port (u16), 9 timestamp seconds since the epoch
// (u32), 10 microseconds offset (u32), 11 protocol type (u8: 1 SIP), 12 capture agent id (u32),
// 14 authentication key (octets), 15 captured payload (octets), 17 correlation id (octets).

import NIOCore

/// One captured message and what HEP says about it.
public struct HEPPacket: Sendable, Equatable {
    /// The network layer addresses; both ends are of one family.
    public enum Addresses: Sendable, Equatable {
        /// Four octets each, network order.
        case ipv4(source: [UInt8], destination: [UInt8])
        /// Sixteen octets each, network order.
        case ipv6(source: [UInt8], destination: [UInt8])
    }

    /// IANA protocol numbers used for chunk 2.
    public enum IPProtocol: UInt8, Sendable, Equatable {
        case udp = 17
        case tcp = 6
    }

    public var addresses: Addresses
    public var ipProtocol: IPProtocol
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var seconds: UInt32
    public var microseconds: UInt32
    /// Chunk 11; 1 is SIP.
    public var protocolType: UInt8
    public var captureID: UInt32
    /// The capture server's password (chunk 14), when it wants one.
    public var authenticationKey: String?
    /// Chunk 17: for SIP, the Call-ID.
    public var correlationID: String?
    public var payload: ByteBuffer

    public init(
        addresses: Addresses, ipProtocol: IPProtocol, sourcePort: UInt16, destinationPort: UInt16,
        seconds: UInt32, microseconds: UInt32, protocolType: UInt8 = HEPPacket.sip, captureID: UInt32,
        authenticationKey: String? = nil, correlationID: String? = nil, payload: ByteBuffer
    ) {
        self.addresses = addresses
        self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.seconds = seconds
        self.microseconds = microseconds
        self.protocolType = protocolType
        self.captureID = captureID
        self.authenticationKey = authenticationKey
        self.correlationID = correlationID
        self.payload = payload
    }

    public static let sip: UInt8 = 1
}

/// Why a packet cannot be encoded.
public struct HEPEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Equatable {
        case addressLength
        case tooLong(Int)
    }

    private let kind: Kind

    public static let addressLength = HEPEncodingError(kind: .addressLength)
    static func tooLong(_ length: Int) -> HEPEncodingError { HEPEncodingError(kind: .tooLong(length)) }

    public var isTooLong: Bool {
        if case .tooLong = kind { return true }
        return false
    }

    public var description: String {
        switch kind {
        case .addressLength: return "HEP addresses must be 4 octets (IPv4) or 16 octets (IPv6) each"
        case .tooLong(let length): return "HEP packet of \(length) octets exceeds the 16-bit length field"
        }
    }
}

public enum HEPEncoder {
    /// The generic chunk type ids of HEP3.
    public enum ChunkType: UInt16, Sendable {
        case ipFamily = 1, ipProtocol = 2, ipv4Source = 3, ipv4Destination = 4, ipv6Source = 5, ipv6Destination = 6
        case sourcePort = 7, destinationPort = 8, seconds = 9, microseconds = 10, protocolType = 11, captureID = 12
        case authenticationKey = 14, payload = 15, correlationID = 17
    }

    public static let magic: [UInt8] = Array("HEP3".utf8)
    static let headerLength = 6
    static let chunkHeaderLength = 6

    /// The packet as one HEP3 datagram.
    public static func encode(_ packet: HEPPacket) throws(HEPEncodingError) -> ByteBuffer {
        let family: UInt8, source: [UInt8], destination: [UInt8], sourceType: ChunkType, destinationType: ChunkType
        switch packet.addresses {
        case .ipv4(let s, let d):
            guard s.count == 4, d.count == 4 else { throw .addressLength }
            family = 2
            (source, destination, sourceType, destinationType) = (s, d, .ipv4Source, .ipv4Destination)
        case .ipv6(let s, let d):
            guard s.count == 16, d.count == 16 else { throw .addressLength }
            family = 10
            (source, destination, sourceType, destinationType) = (s, d, .ipv6Source, .ipv6Destination)
        }
        let key = packet.authenticationKey.map { Array($0.utf8) }
        let correlation = packet.correlationID.map { Array($0.utf8) }
        var total = headerLength
        total += 3 * (chunkHeaderLength + 1)  // family, protocol, protocol type
        total += 2 * (chunkHeaderLength + source.count)  // source, destination address
        total += 2 * (chunkHeaderLength + 2)  // ports
        total += 3 * (chunkHeaderLength + 4)  // seconds, microseconds, capture id
        if let key { total += chunkHeaderLength + key.count }
        if let correlation { total += chunkHeaderLength + correlation.count }
        total += chunkHeaderLength + packet.payload.readableBytes
        guard total <= Int(UInt16.max) else { throw .tooLong(total) }

        var out = ByteBuffer()
        out.reserveCapacity(total)
        out.writeBytes(magic)
        out.writeInteger(UInt16(total))
        func chunk(_ type: ChunkType, length: Int) {
            out.writeInteger(UInt16(0))  // vendor: generic
            out.writeInteger(type.rawValue)
            out.writeInteger(UInt16(chunkHeaderLength + length))
        }
        chunk(.ipFamily, length: 1); out.writeInteger(family)
        chunk(.ipProtocol, length: 1); out.writeInteger(packet.ipProtocol.rawValue)
        chunk(sourceType, length: source.count); out.writeBytes(source)
        chunk(destinationType, length: destination.count); out.writeBytes(destination)
        chunk(.sourcePort, length: 2); out.writeInteger(packet.sourcePort)
        chunk(.destinationPort, length: 2); out.writeInteger(packet.destinationPort)
        chunk(.seconds, length: 4); out.writeInteger(packet.seconds)
        chunk(.microseconds, length: 4); out.writeInteger(packet.microseconds)
        chunk(.protocolType, length: 1); out.writeInteger(packet.protocolType)
        chunk(.captureID, length: 4); out.writeInteger(packet.captureID)
        if let key { chunk(.authenticationKey, length: key.count); out.writeBytes(key) }
        if let correlation { chunk(.correlationID, length: correlation.count); out.writeBytes(correlation) }
        chunk(.payload, length: packet.payload.readableBytes)
        out.writeImmutableBuffer(packet.payload)
        assert(out.readableBytes == total)
        return out
    }
}
