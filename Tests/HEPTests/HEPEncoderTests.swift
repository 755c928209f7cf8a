// The HEP3 encoder against bytes written out by hand from the chunk table of the HEP3
// specification, for IPv4 and IPv6, and a decoder written here that reads every chunk back.

import HEP
import NIOCore
import XCTest

final class HEPEncoderTests: XCTestCase {
    static let message = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x1\r\n\r\n"

    func packet(_ addresses: HEPPacket.Addresses, key: String? = nil, protocol ipProtocol: HEPPacket.IPProtocol = .udp) -> HEPPacket {
        HEPPacket(addresses: addresses, ipProtocol: ipProtocol, sourcePort: 5060, destinationPort: 5090,
                  seconds: 0x6543_2100, microseconds: 123_456, captureID: 2001, authenticationKey: key,
                  correlationID: "x1", payload: ByteBuffer(string: Self.message))
    }

    func testIPv4PacketHasTheExactBytesOfTheChunkTable() throws {
        let bytes = Array(try HEPEncoder.encode(packet(.ipv4(source: [127, 0, 0, 1], destination: [10, 0, 0, 2]))).readableBytesView)
        let payload = Array(Self.message.utf8)
        var expected: [UInt8] = Array("HEP3".utf8)
        let total = 6 + 7 + 7 + 10 + 10 + 8 + 8 + 10 + 10 + 7 + 10 + (6 + 2) + (6 + payload.count)
        expected += [UInt8(total >> 8), UInt8(total & 0xff)]
        expected += [0, 0, 0, 1, 0, 7, 2]                                  // IP family: IPv4
        expected += [0, 0, 0, 2, 0, 7, 17]                                 // IP protocol: UDP
        expected += [0, 0, 0, 3, 0, 10, 127, 0, 0, 1]                      // IPv4 source
        expected += [0, 0, 0, 4, 0, 10, 10, 0, 0, 2]                       // IPv4 destination
        expected += [0, 0, 0, 7, 0, 8, 0x13, 0xc4]                         // source port 5060
        expected += [0, 0, 0, 8, 0, 8, 0x13, 0xe2]                         // destination port 5090
        expected += [0, 0, 0, 9, 0, 10, 0x65, 0x43, 0x21, 0x00]            // seconds
        expected += [0, 0, 0, 10, 0, 10, 0x00, 0x01, 0xe2, 0x40]           // microseconds 123456
        expected += [0, 0, 0, 11, 0, 7, 1]                                 // protocol type: SIP
        expected += [0, 0, 0, 12, 0, 10, 0x00, 0x00, 0x07, 0xd1]           // capture id 2001
        expected += [0, 0, 0, 17, 0, 8] + Array("x1".utf8)                 // correlation id
        expected += [0, 0, 0, 15, UInt8((6 + payload.count) >> 8), UInt8((6 + payload.count) & 0xff)] + payload
        XCTAssertEqual(bytes, expected)
        XCTAssertEqual(bytes.count, total)
    }

    func testIPv6PacketCarriesSixteenOctetAddressesAndTheAuthenticationKey() throws {
        let source = [UInt8](repeating: 0, count: 15) + [1]
        let destination: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]
        let bytes = Array(try HEPEncoder.encode(packet(.ipv6(source: source, destination: destination), key: "pw", protocol: .tcp)).readableBytesView)
        XCTAssertEqual(Array(bytes[0..<4]), Array("HEP3".utf8))
        XCTAssertEqual(Int(bytes[4]) << 8 | Int(bytes[5]), bytes.count)
        XCTAssertEqual(Array(bytes[6..<13]), [0, 0, 0, 1, 0, 7, 10], "family IPv6")
        XCTAssertEqual(Array(bytes[13..<20]), [0, 0, 0, 2, 0, 7, 6], "protocol TCP")
        XCTAssertEqual(Array(bytes[20..<26]), [0, 0, 0, 5, 0, 22])
        XCTAssertEqual(Array(bytes[26..<42]), source)
        XCTAssertEqual(Array(bytes[42..<48]), [0, 0, 0, 6, 0, 22])
        XCTAssertEqual(Array(bytes[48..<64]), destination)

        let chunks = try Self.decode(bytes)
        XCTAssertEqual(chunks[14].map { String(decoding: $0, as: UTF8.self) }, "pw")
        XCTAssertEqual(chunks[17].map { String(decoding: $0, as: UTF8.self) }, "x1")
        XCTAssertNil(chunks[3])
    }

    func testDecodingGivesBackEveryField() throws {
        for addresses in [HEPPacket.Addresses.ipv4(source: [192, 0, 2, 1], destination: [198, 51, 100, 7]),
                          .ipv6(source: Array(1...16), destination: Array(101...116))] {
            let original = packet(addresses, key: "secret")
            let chunks = try Self.decode(Array(try HEPEncoder.encode(original).readableBytesView))
            func integer(_ type: UInt16) -> UInt64? { chunks[type].map { $0.reduce(0) { $0 << 8 | UInt64($1) } } }
            switch addresses {
            case .ipv4(let s, let d):
                XCTAssertEqual(integer(1), 2)
                XCTAssertEqual(chunks[3], s)
                XCTAssertEqual(chunks[4], d)
            case .ipv6(let s, let d):
                XCTAssertEqual(integer(1), 10)
                XCTAssertEqual(chunks[5], s)
                XCTAssertEqual(chunks[6], d)
            }
            XCTAssertEqual(integer(2), 17)
            XCTAssertEqual(integer(7), 5060)
            XCTAssertEqual(integer(8), 5090)
            XCTAssertEqual(integer(9), 0x6543_2100)
            XCTAssertEqual(integer(10), 123_456)
            XCTAssertEqual(integer(11), 1)
            XCTAssertEqual(integer(12), 2001)
            XCTAssertEqual(chunks[14], Array("secret".utf8))
            XCTAssertEqual(chunks[15], Array(Self.message.utf8))
            XCTAssertEqual(chunks[17], Array("x1".utf8))
        }
    }

    func testWrongAddressLengthsAndOversizedPayloadsAreRefused() {
        XCTAssertThrowsError(try HEPEncoder.encode(packet(.ipv4(source: [1, 2, 3], destination: [1, 2, 3, 4]))))
        XCTAssertThrowsError(try HEPEncoder.encode(packet(.ipv6(source: [1, 2, 3, 4], destination: [1, 2, 3, 4]))))
        var big = packet(.ipv4(source: [1, 2, 3, 4], destination: [1, 2, 3, 4]))
        big.payload = ByteBuffer(repeating: 0x41, count: 65_500)
        XCTAssertThrowsError(try HEPEncoder.encode(big)) { error in
            XCTAssertTrue((error as? HEPEncodingError)?.isTooLong == true)
        }
    }

    struct Malformed: Error { var reason: String }

    /// Reads a HEP3 packet into its generic chunks by type, checking every length on the way.
    static func decode(_ bytes: [UInt8]) throws -> [UInt16: [UInt8]] {
        guard bytes.count >= 6, Array(bytes[0..<4]) == Array("HEP3".utf8) else { throw Malformed(reason: "no HEP3 magic") }
        let total = Int(bytes[4]) << 8 | Int(bytes[5])
        guard total == bytes.count else { throw Malformed(reason: "total length \(total) for \(bytes.count) octets") }
        var chunks: [UInt16: [UInt8]] = [:]
        var position = 6
        while position < total {
            guard position + 6 <= total else { throw Malformed(reason: "truncated chunk header at \(position)") }
            let vendor = Int(bytes[position]) << 8 | Int(bytes[position + 1])
            let type = UInt16(bytes[position + 2]) << 8 | UInt16(bytes[position + 3])
            let length = Int(bytes[position + 4]) << 8 | Int(bytes[position + 5])
            guard vendor == 0 else { throw Malformed(reason: "vendor \(vendor)") }
            guard length >= 6, position + length <= total else { throw Malformed(reason: "chunk \(type) length \(length)") }
            guard chunks[type] == nil else { throw Malformed(reason: "chunk \(type) twice") }
            chunks[type] = Array(bytes[(position + 6)..<(position + length)])
            position += length
        }
        return chunks
    }
}
