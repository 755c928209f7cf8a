// SRTP/SRTCP (RFC 3711) between the two ends of a DTLS-SRTP association with the exported keys
// (RFC 5764 §4.2), for every profile (RFC 5764 §4.1.2, RFC 7714): round trips, tag sizes,
// replay protection and authentication failures.

import DTLS
import NIOCore
import SRTP
import XCTest

final class SRTPSessionTests: XCTestCase {
    private func rtpPacket(sequence: UInt16, payload: Int = 160) -> [UInt8] {
        var packet: [UInt8] = [0x80, 0x00, UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        packet += [0x00, 0x00, 0x01, 0x40]  // timestamp
        packet += [0x12, 0x34, 0x56, 0x78]  // SSRC
        packet += (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(sequence)) }
        return packet
    }

    private func rtcpSenderReport() -> [UInt8] {
        var packet: [UInt8] = [0x80, 200, 0x00, 0x06, 0x12, 0x34, 0x56, 0x78]
        packet += (0..<20).map { UInt8($0) }
        return packet
    }

    /// Keys from a real handshake.
    private func keys(for profile: SRTPProtectionProfile) throws -> SRTPKeyingMaterial {
        let pair = try HandshakePair(clientProfiles: [profile], serverProfiles: [profile])
        pair.runWithoutTimers()
        return try XCTUnwrap(pair.clientConnection?.1)
    }

    private func expectedTag(_ profile: SRTPProtectionProfile, rtcp: Bool) -> Int {
        switch profile {
        case .aes128CMSHA1_80: return 10
        case .aes128CMSHA1_32: return rtcp ? 10 : 4
        case .aeadAES128GCM, .aeadAES256GCM: return 16
        }
    }

    func testRTPAndRTCPRoundTripInBothDirectionsForEachProfile() throws {
        for profile in SRTPProtectionProfile.allCases {
            let material = try keys(for: profile)
            for sender in [DTLSRole.client, .server] {
                let outbound = try SRTPSession(profile: profile, keyingMaterial: material, role: sender, direction: .outbound)
                let inbound = try SRTPSession(
                    profile: profile, keyingMaterial: material, role: sender.peer, direction: .inbound)
                for sequence in UInt16(1)...3 {
                    let plain = rtpPacket(sequence: sequence)
                    var packet = plain
                    try outbound.protect(rtp: &packet)
                    XCTAssertEqual(packet.count, plain.count + expectedTag(profile, rtcp: false), "\(profile)")
                    XCTAssertNotEqual(Array(packet[12..<plain.count]), Array(plain[12...]), "payload is encrypted")
                    try inbound.unprotect(rtp: &packet)
                    XCTAssertEqual(packet, plain, "\(profile) \(sender)")
                }
                let plainRTCP = rtcpSenderReport()
                var rtcp = plainRTCP
                try outbound.protectRTCP(&rtcp)
                XCTAssertEqual(rtcp.count, plainRTCP.count + 4 + expectedTag(profile, rtcp: true), "\(profile)")
                try inbound.unprotectRTCP(&rtcp)
                XCTAssertEqual(rtcp, plainRTCP, "\(profile) \(sender)")
            }
        }
    }

    func testReplayedPacketIsRejected() throws {
        for profile in SRTPProtectionProfile.allCases {
            let material = try keys(for: profile)
            let outbound = try SRTPSession(profile: profile, keyingMaterial: material, role: .server, direction: .outbound)
            let inbound = try SRTPSession(profile: profile, keyingMaterial: material, role: .client, direction: .inbound)
            var packet = rtpPacket(sequence: 100)
            try outbound.protect(rtp: &packet)
            var first = packet
            try inbound.unprotect(rtp: &first)
            var replay = packet
            XCTAssertThrowsError(try inbound.unprotect(rtp: &replay)) {
                XCTAssertEqual(($0 as? SRTPError)?.kind, .replayed, "\(profile) \($0)")
            }
            XCTAssertEqual(replay, packet, "a rejected packet is left as it was")

            var rtcp = rtcpSenderReport()
            try outbound.protectRTCP(&rtcp)
            var firstRTCP = rtcp
            try inbound.unprotectRTCP(&firstRTCP)
            var replayRTCP = rtcp
            XCTAssertThrowsError(try inbound.unprotectRTCP(&replayRTCP)) {
                XCTAssertEqual(($0 as? SRTPError)?.kind, .replayed, "\(profile) \($0)")
            }
        }
    }

    func testTamperedPacketFailsAuthentication() throws {
        for profile in SRTPProtectionProfile.allCases {
            let material = try keys(for: profile)
            let outbound = try SRTPSession(profile: profile, keyingMaterial: material, role: .client, direction: .outbound)
            let inbound = try SRTPSession(profile: profile, keyingMaterial: material, role: .server, direction: .inbound)
            var packet = rtpPacket(sequence: 7)
            try outbound.protect(rtp: &packet)
            packet[20] ^= 0x01
            XCTAssertThrowsError(try inbound.unprotect(rtp: &packet)) {
                XCTAssertEqual(($0 as? SRTPError)?.kind, .authenticationFailed, "\(profile) \($0)")
            }
            var rtcp = rtcpSenderReport()
            try outbound.protectRTCP(&rtcp)
            rtcp[10] ^= 0x80
            XCTAssertThrowsError(try inbound.unprotectRTCP(&rtcp)) {
                XCTAssertEqual(($0 as? SRTPError)?.kind, .authenticationFailed, "\(profile) \($0)")
            }
            // The genuine next packet still gets through.
            var next = rtpPacket(sequence: 8)
            let plain = next
            try outbound.protect(rtp: &next)
            try inbound.unprotect(rtp: &next)
            XCTAssertEqual(next, plain)
        }
    }

    func testOwnKeyCannotOpenOwnPackets() throws {
        let material = try keys(for: .aes128CMSHA1_80)
        let outbound = try SRTPSession(profile: .aes128CMSHA1_80, keyingMaterial: material, role: .client, direction: .outbound)
        // Inbound for the client uses the server's key: a packet the client sent does not verify.
        let inbound = try SRTPSession(profile: .aes128CMSHA1_80, keyingMaterial: material, role: .client, direction: .inbound)
        var packet = rtpPacket(sequence: 1)
        try outbound.protect(rtp: &packet)
        XCTAssertThrowsError(try inbound.unprotect(rtp: &packet)) {
            XCTAssertEqual(($0 as? SRTPError)?.kind, .authenticationFailed)
        }
    }

    func testByteBufferPacketsRoundTrip() throws {
        let profile = SRTPProtectionProfile.aeadAES128GCM
        let material = try keys(for: profile)
        let outbound = try SRTPSession(profile: profile, keyingMaterial: material, role: .client, direction: .outbound)
        let inbound = try SRTPSession(profile: profile, keyingMaterial: material, role: .server, direction: .inbound)
        let plain = rtpPacket(sequence: 42)
        var buffer = ByteBuffer()
        buffer.writeBytes([9, 9, 9])  // bytes already read, before the packet
        buffer.moveReaderIndex(forwardBy: 3)
        buffer.writeBytes(plain)
        try outbound.protect(rtp: &buffer)
        XCTAssertEqual(buffer.readableBytes, plain.count + 16)
        try inbound.unprotect(rtp: &buffer)
        XCTAssertEqual(Array(buffer.readableBytesView), plain)

        var rtcp = ByteBuffer(bytes: rtcpSenderReport())
        try outbound.protectRTCP(&rtcp)
        try inbound.unprotectRTCP(&rtcp)
        XCTAssertEqual(Array(rtcp.readableBytesView), rtcpSenderReport())
    }

    func testTooShortPacketIsMalformed() throws {
        let material = try keys(for: .aes128CMSHA1_80)
        let inbound = try SRTPSession(profile: .aes128CMSHA1_80, keyingMaterial: material, role: .client, direction: .inbound)
        var packet: [UInt8] = [0x80, 0]
        XCTAssertThrowsError(try inbound.unprotect(rtp: &packet)) {
            XCTAssertEqual(($0 as? SRTPError)?.kind, .malformed)
        }
    }
}
