// Tests of the STUN codec (RFC 8489): the RFC 5769 test vectors (§2.1-§2.3), round trips of every
// attribute, integrity and fingerprint failures, malformed input and RFC 7983 demultiplexing.

import NIOCore
import XCTest

@testable import ICE

func hexBytes(_ text: String) -> [UInt8] {
    text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! }
}

enum RFC5769 {
    static let password = "VOkJxbRl1RmTxUk/WvJxBt"
    static let transactionID = STUNTransactionID(bytes: hexBytes("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"))

    /// §2.1 Sample Request.
    static let request = hexBytes("""
        00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
        00 24 00 04 6e 00 01 ff
        80 29 00 08 93 2f f9 b1 51 26 3b 36
        00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
        00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
        80 28 00 04 e5 7a 3b cf
        """)

    /// §2.2 Sample IPv4 Response.
    static let ipv4Response = hexBytes("""
        01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 08 00 01 a1 47 e1 12 a6 43
        00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
        80 28 00 04 c0 7d 4c 96
        """)

    /// §2.3 Sample IPv6 Response.
    static let ipv6Response = hexBytes("""
        01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
        00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
        80 28 00 04 c8 fb 0b 4c
        """)
}

final class STUNMessageTests: XCTestCase {
    // MARK: RFC 5769 vectors

    func testSampleRequestVerifiesAndDecodes() throws {
        let message = try STUNMessage.parse(RFC5769.request)
        XCTAssertEqual(message.type, .bindingRequest)
        XCTAssertEqual(message.transactionID, RFC5769.transactionID)
        XCTAssertTrue(message.verifyIntegrity(password: RFC5769.password))
        XCTAssertTrue(message.verifyFingerprint())
        XCTAssertEqual(message.software, "STUN test client")
        XCTAssertEqual(message.priority, 0x6e00_01ff)
        XCTAssertEqual(message.iceControlled, 0x932f_f9b1_5126_3b36)
        XCTAssertNil(message.iceControlling)
        XCTAssertEqual(message.username, "evtj:h6vY")
        XCTAssertFalse(message.useCandidate)
        XCTAssertEqual(message.fingerprint, 0xe57a_3bcf)
        XCTAssertEqual(message.unknownComprehensionRequired, [])
    }

    func testSampleRequestReencodesToTheSameBytes() throws {
        let message = try STUNMessage.parse(RFC5769.request)
        let encoded = message.encode(integrityPassword: RFC5769.password, fingerprint: true, padding: 0x20)
        XCTAssertEqual(encoded, RFC5769.request)
    }

    func testSampleIPv4ResponseVerifiesDecodesAndReencodes() throws {
        let message = try STUNMessage.parse(RFC5769.ipv4Response)
        XCTAssertEqual(message.type, .bindingSuccess)
        XCTAssertEqual(message.transactionID, RFC5769.transactionID)
        XCTAssertTrue(message.verifyIntegrity(password: RFC5769.password))
        XCTAssertTrue(message.verifyFingerprint())
        XCTAssertEqual(message.software, "test vector")
        XCTAssertEqual(message.xorMappedAddress, ICETransportAddress(ipv4: 192, 0, 2, 1, port: 32853))
        XCTAssertEqual(message.xorMappedAddress?.description, "192.0.2.1:32853")
        XCTAssertEqual(
            message.encode(integrityPassword: RFC5769.password, fingerprint: true, padding: 0x20),
            RFC5769.ipv4Response)
    }

    func testSampleIPv6ResponseVerifiesDecodesAndReencodes() throws {
        let message = try STUNMessage.parse(RFC5769.ipv6Response)
        XCTAssertEqual(message.type, .bindingSuccess)
        XCTAssertTrue(message.verifyIntegrity(password: RFC5769.password))
        XCTAssertTrue(message.verifyFingerprint())
        let expected = ICETransportAddress(
            ipv6: hexBytes("20 01 0d b8 12 34 56 78 00 11 22 33 44 55 66 77"), port: 32853)
        XCTAssertEqual(message.xorMappedAddress, expected)
        XCTAssertEqual(message.xorMappedAddress?.description, "[2001:db8:1234:5678:11:2233:4455:6677]:32853")
        XCTAssertEqual(
            message.encode(integrityPassword: RFC5769.password, fingerprint: true, padding: 0x20),
            RFC5769.ipv6Response)
    }

    func testVectorsParseFromAByteBufferWithoutConsumingIt() throws {
        let buffer = ByteBuffer(bytes: RFC5769.ipv4Response)
        XCTAssertTrue(STUNMessage.looksLikeSTUN(buffer))
        let message = try STUNMessage.parse(buffer)
        XCTAssertTrue(message.verifyIntegrity(password: RFC5769.password))
        XCTAssertEqual(buffer.readableBytes, RFC5769.ipv4Response.count)
    }

    // MARK: Integrity and fingerprint failures

    func testWrongPasswordFailsIntegrityButNotFingerprint() throws {
        let message = try STUNMessage.parse(RFC5769.request)
        XCTAssertFalse(message.verifyIntegrity(password: "VOkJxbRl1RmTxUk/WvJxBu"))
        XCTAssertFalse(message.verifyIntegrity(password: ""))
        XCTAssertTrue(message.verifyFingerprint())
    }

    func testAModifiedByteFailsIntegrityAndFingerprint() throws {
        var bytes = RFC5769.request
        bytes[25] ^= 0x01  // inside SOFTWARE
        let message = try STUNMessage.parse(bytes)
        XCTAssertFalse(message.verifyIntegrity(password: RFC5769.password))
        XCTAssertFalse(message.verifyFingerprint())
    }

    func testAModifiedFingerprintFailsOnlyTheFingerprint() throws {
        var bytes = RFC5769.request
        bytes[bytes.count - 1] ^= 0x80
        let message = try STUNMessage.parse(bytes)
        XCTAssertTrue(message.verifyIntegrity(password: RFC5769.password))
        XCTAssertFalse(message.verifyFingerprint())
    }

    func testAModifiedIntegrityValueFails() throws {
        var bytes = RFC5769.ipv6Response
        bytes[bytes.count - 12] ^= 0x01  // last byte of the HMAC
        let message = try STUNMessage.parse(bytes)
        XCTAssertFalse(message.verifyIntegrity(password: RFC5769.password))
    }

    func testMessagesWithoutChecksumsDoNotVerify() throws {
        let built = STUNMessage(type: .bindingRequest, transactionID: RFC5769.transactionID, attributes: [.useCandidate])
        XCTAssertFalse(built.verifyIntegrity(password: "x"))
        XCTAssertFalse(built.verifyFingerprint())
        let parsed = try STUNMessage.parse(built.encode())
        XCTAssertFalse(parsed.hasIntegrity)
        XCTAssertFalse(parsed.hasFingerprint)
        XCTAssertFalse(parsed.verifyIntegrity(password: "x"))
        XCTAssertFalse(parsed.verifyFingerprint())
    }

    func testIntegritySHA256VerifiesAndDetectsTampering() throws {
        let message = STUNMessage(
            type: .bindingRequest, transactionID: RFC5769.transactionID,
            attributes: [.username("a:b"), .priority(7)])
        var bytes = message.encode(integrityPassword: "secret-password-0123456", integritySHA256: true, fingerprint: true)
        let parsed = try STUNMessage.parse(bytes)
        XCTAssertTrue(parsed.verifyIntegrity(password: "secret-password-0123456"))
        XCTAssertTrue(parsed.verifyFingerprint())
        if case .messageIntegritySHA256(let mac) = parsed.attribute(.messageIntegritySHA256) {
            XCTAssertEqual(mac.count, 32)
        } else {
            XCTFail("no MESSAGE-INTEGRITY-SHA256")
        }
        XCTAssertFalse(parsed.verifyIntegrity(password: "secret-password-0123457"))
        bytes[bytes.count - 9] ^= 0x01  // last byte of the SHA-256 MAC
        XCTAssertFalse(try STUNMessage.parse(bytes).verifyIntegrity(password: "secret-password-0123456"))
    }

    func testCRC32MatchesTheStandardCheckValue() {
        let crc = Array("123456789".utf8).withUnsafeBytes { STUNCrypto.crc32($0) }
        XCTAssertEqual(crc, 0xCBF4_3926)
    }

    // MARK: Round trips

    func testEveryAttributeSurvivesARoundTrip() throws {
        let id = STUNTransactionID(high: 0x0102_0304, low: 0x0506_0708_090A_0B0C)
        let attributes: [STUNAttribute] = [
            .username("abcd:efgh"),
            .priority(0x6E7F_1EFF),
            .useCandidate,
            .iceControlling(0x0123_4567_89AB_CDEF),
            .iceControlled(0xFEDC_BA98_7654_3210),
            .xorMappedAddress(ICETransportAddress(ipv4: 203, 0, 113, 9, port: 50000)),
            .xorMappedAddress(ICETransportAddress(ipv6: hexBytes("fe 80 00 00 00 00 00 00 02 11 22 ff fe 33 44 55"), port: 1)),
            .mappedAddress(ICETransportAddress(ipv4: 10, 0, 0, 1, port: 3478)),
            .errorCode(STUNErrorCode(code: 487, reason: "Role Conflict")),
            .unknownAttributes([0x0031, 0x7FFF, 0x0002]),
            .software("Tandem ünïcode"),
            .other(type: STUNAttributeType(rawValue: 0xC001), value: [1, 2, 3, 4, 5]),
        ]
        let message = STUNMessage(type: .bindingError, transactionID: id, attributes: attributes)
        let bytes = message.encode(integrityPassword: "pw", fingerprint: true)
        XCTAssertEqual(bytes.count % 4, 0)
        let parsed = try STUNMessage.parse(bytes)
        XCTAssertEqual(parsed.type, .bindingError)
        XCTAssertEqual(parsed.transactionID, id)
        XCTAssertEqual(Array(parsed.attributes.dropLast(2)), attributes)
        XCTAssertEqual(parsed.attributes.suffix(2).map(\.type), [.messageIntegrity, .fingerprint])
        XCTAssertTrue(parsed.verifyIntegrity(password: "pw"))
        XCTAssertTrue(parsed.verifyFingerprint())
        XCTAssertEqual(parsed.errorCode?.code, 487)
        XCTAssertEqual(parsed.errorCode?.errorClass, 4)
        XCTAssertEqual(parsed.errorCode?.number, 87)
        // Encoding the parsed message again gives the same bytes: stored checksums are recomputed.
        XCTAssertEqual(parsed.encode(integrityPassword: "pw", fingerprint: true), bytes)
    }

    func testMessageTypeInterleavesMethodAndClassBits() {
        XCTAssertEqual(STUNMessageType.bindingRequest.rawValue, 0x0001)
        XCTAssertEqual(STUNMessageType.bindingIndication.rawValue, 0x0011)
        XCTAssertEqual(STUNMessageType.bindingSuccess.rawValue, 0x0101)
        XCTAssertEqual(STUNMessageType.bindingError.rawValue, 0x0111)
        for method in [UInt16(0x001), 0x003, 0x00F, 0x070, 0xF80, 0xABC, 0xFFF] {
            for messageClass in [STUNClass.request, .indication, .successResponse, .errorResponse] {
                let type = STUNMessageType(method: STUNMethod(rawValue: method), messageClass: messageClass)
                XCTAssertEqual(type.rawValue & 0xC000, 0)
                XCTAssertEqual(STUNMessageType(rawValue: type.rawValue), type)
            }
        }
    }

    func testTransactionIDBytesRoundTrip() {
        XCTAssertEqual(RFC5769.transactionID.bytes, hexBytes("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"))
        XCTAssertEqual(RFC5769.transactionID.description, "b7e7a701bc34d686fa87dfae")
    }

    // MARK: Unknown and misplaced attributes

    func testUnknownComprehensionRequiredAttributesAreKeptAndListed() throws {
        let message = STUNMessage(
            type: .bindingRequest, transactionID: RFC5769.transactionID,
            attributes: [
                .other(type: STUNAttributeType(rawValue: 0x0031), value: [9]),
                .other(type: STUNAttributeType(rawValue: 0x8031), value: []),
                .other(type: STUNAttributeType(rawValue: 0x0031), value: [8]),
                .other(type: STUNAttributeType(rawValue: 0x7001), value: [1, 2]),
            ])
        let parsed = try STUNMessage.parse(message.encode())
        XCTAssertEqual(parsed.attributes.count, 4)
        XCTAssertEqual(parsed.unknownComprehensionRequired, [0x0031, 0x7001])
    }

    func testAttributesAfterMessageIntegrityAreIgnored() throws {
        var bytes = STUNMessage(type: .bindingRequest, transactionID: RFC5769.transactionID, attributes: [.priority(1)])
            .encode(integrityPassword: "pw")
        // Append USE-CANDIDATE after MESSAGE-INTEGRITY and fix the length.
        bytes += [0x00, 0x25, 0x00, 0x00]
        bytes[3] += 4
        let parsed = try STUNMessage.parse(bytes)
        XCTAssertFalse(parsed.useCandidate)
        XCTAssertTrue(parsed.verifyIntegrity(password: "pw"))
    }

    func testAnAttributeAfterFingerprintIsRejected() {
        var bytes = STUNMessage(type: .bindingRequest, transactionID: RFC5769.transactionID).encode(fingerprint: true)
        bytes += [0x00, 0x25, 0x00, 0x00]
        bytes[3] += 4
        XCTAssertThrowsError(try STUNMessage.parse(bytes)) { error in
            XCTAssertEqual((error as? STUNParseError)?.reason, .attributeAfterFingerprint)
        }
    }

    // MARK: Malformed input

    func testEveryTruncationOfAVectorIsRejected() {
        for count in 0..<RFC5769.request.count {
            XCTAssertThrowsError(try STUNMessage.parse(Array(RFC5769.request.prefix(count))), "prefix \(count)")
        }
    }

    func testBadHeadersAreRejectedWithTheirReason() {
        func reason(_ bytes: [UInt8]) -> STUNParseError.Reason? {
            do {
                _ = try STUNMessage.parse(bytes)
                return nil
            } catch {
                return error.reason
            }
        }
        var badCookie = RFC5769.request
        badCookie[4] = 0x22
        XCTAssertEqual(reason(badCookie), .badMagicCookie)
        var topBits = RFC5769.request
        topBits[0] = 0x40
        XCTAssertEqual(reason(topBits), .notSTUN)
        XCTAssertEqual(reason(RFC5769.request + [0, 0, 0, 0]), .badLength)
        XCTAssertEqual(reason(Array(RFC5769.request.prefix(10))), .truncatedHeader)
        var longAttribute = RFC5769.request
        longAttribute[23] = 0xF0  // SOFTWARE claims 240 bytes
        XCTAssertEqual(reason(longAttribute), .truncatedAttribute)
        var badPriority = RFC5769.request
        badPriority[43] = 0x03  // PRIORITY of three bytes
        XCTAssertEqual(reason(badPriority), .malformedAttribute(.priority))
    }

    // MARK: Demultiplexing (RFC 7983)

    func testFirstByteDemultiplexing() {
        for byte in UInt8(0)...3 { XCTAssertTrue(STUNMessage.isSTUN(firstByte: byte)) }
        for byte: UInt8 in [4, 20, 63, 64, 127, 128, 191, 255] { XCTAssertFalse(STUNMessage.isSTUN(firstByte: byte)) }
        XCTAssertTrue(STUNMessage.looksLikeSTUN(RFC5769.request))
        XCTAssertFalse(STUNMessage.looksLikeSTUN([0x80] + Array(RFC5769.request.dropFirst())))
        XCTAssertFalse(STUNMessage.looksLikeSTUN(Array(RFC5769.request.dropLast(4))))
        XCTAssertFalse(STUNMessage.looksLikeSTUN([0x16, 0xfe, 0xfd]))
    }

    // MARK: Addresses

    func testTransportAddressesConvertToAndFromSocketAddresses() throws {
        let v4 = ICETransportAddress(ipv4: 192, 0, 2, 1, port: 32853)
        XCTAssertEqual(ICETransportAddress(v4.socketAddress), v4)
        XCTAssertEqual(try SocketAddress(ipAddress: "192.0.2.1", port: 32853), v4.socketAddress)
        let v6 = ICETransportAddress(ipv6: hexBytes("20 01 0d b8 12 34 56 78 00 11 22 33 44 55 66 77"), port: 9)
        XCTAssertEqual(ICETransportAddress(v6.socketAddress), v6)
        XCTAssertEqual(ICETransportAddress(try SocketAddress(ipAddress: "2001:db8:1234:5678:11:2233:4455:6677", port: 9)), v6)
        XCTAssertTrue(v6.isIPv6)
        XCTAssertFalse(v4.isIPv6)
    }
}
