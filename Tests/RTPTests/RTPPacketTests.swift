import NIOCore
import RTP
import XCTest

final class RTPPacketTests: XCTestCase {
    func testRFC7983Demultiplexing() {
        XCTAssertEqual(PacketKind.classify([0x00, 0x01]), .stun)
        XCTAssertEqual(PacketKind.classify([0x01, 0x01]), .stun)
        XCTAssertEqual(PacketKind.classify([22, 0xFE, 0xFD]), .dtls, "DTLS handshake record")
        XCTAssertEqual(PacketKind.classify([0x80, 111]), .rtp)
        XCTAssertEqual(PacketKind.classify([0x80, 0x80 | 111]), .rtp, "marker set")
        XCTAssertEqual(PacketKind.classify([0x80, 200]), .rtcp)
        XCTAssertEqual(PacketKind.classify([0x81, 201]), .rtcp)
        XCTAssertEqual(PacketKind.classify([0x8F, 206]), .rtcp)
        XCTAssertEqual(PacketKind.classify([70, 0]), .unknown)
        XCTAssertEqual(PacketKind.classify([UInt8]()), .unknown)
    }

    func testWriteThenParse() throws {
        var packet = [UInt8](repeating: 0, count: 12 + 160)
        packet.withUnsafeMutableBytes {
            RTPHeader.write(marker: true, payloadType: 0, sequenceNumber: 65535, timestamp: 0xDEAD_BEEF, ssrc: 0x1234_5678, into: $0)
        }
        let header = try RTPHeader(parsing: packet)
        XCTAssertTrue(header.marker)
        XCTAssertEqual(header.payloadType, 0)
        XCTAssertEqual(header.sequenceNumber, 65535)
        XCTAssertEqual(header.timestamp, 0xDEAD_BEEF)
        XCTAssertEqual(header.ssrc, 0x1234_5678)
        XCTAssertEqual(header.payloadRange, 12..<172)
        XCTAssertNil(header.extensionProfile)
    }

    func testCSRCsExtensionAndPadding() throws {
        // V=2 P=1 X=1 CC=2, PT 111, then 2 CSRCs, a one-byte-header extension (0xBEDE, 1 word),
        // 3 payload bytes and 2 bytes of padding.
        var packet: [UInt8] = [0xB2, 111, 0x00, 0x07, 0, 0, 0, 100, 0xAA, 0xBB, 0xCC, 0xDD]
        packet += [0, 0, 0, 1, 0, 0, 0, 2]
        packet += [0xBE, 0xDE, 0x00, 0x01, 0x10, 0x7F, 0x00, 0x00]
        packet += [1, 2, 3, 0, 2]
        let header = try RTPHeader(parsing: packet)
        XCTAssertEqual(header.csrcCount, 2)
        XCTAssertEqual(header.extensionProfile, 0xBEDE)
        XCTAssertEqual(header.extensionRange, 24..<28)
        XCTAssertEqual(header.paddingLength, 2)
        XCTAssertEqual(Array(packet[header.payloadRange]), [1, 2, 3])
    }

    func testMalformedPacketsAreRefused() {
        XCTAssertThrowsError(try RTPHeader(parsing: [0x80, 0, 0]))
        XCTAssertThrowsError(try RTPHeader(parsing: [UInt8](repeating: 0, count: 12)), "version 0")
        XCTAssertThrowsError(try RTPHeader(parsing: [0x83] + [UInt8](repeating: 0, count: 11)), "CSRC list past the end")
        XCTAssertThrowsError(try RTPHeader(parsing: [0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 5]), "extension past the end")
        XCTAssertThrowsError(try RTPHeader(parsing: [0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]), "padding longer than the packet")
    }
}

final class RTCPTests: XCTestCase {
    private let block = RTCPReportBlock(ssrc: 0xABCD, fractionLost: 25, cumulativeLost: -3, extendedHighestSequence: 0x0001_0005,
                                        jitter: 42, lastSenderReport: 0x1234_5678, delaySinceLastSenderReport: 65536)

    func testSenderReportWithSDESRoundTrips() throws {
        let info = RTCPSenderInfo(ntpTimestamp: 0x83AA_7E80_8000_0000, rtpTimestamp: 160_000, packetCount: 1000, octetCount: 160_000)
        let bytes = RTCP.report(ssrc: 0x1111, info: info, reports: [block], cname: "tandem@node")
        XCTAssertEqual(bytes.count % 4, 0)
        let packets = try RTCP.parse(bytes)
        XCTAssertEqual(packets.count, 2)
        XCTAssertEqual(packets[0], .senderReport(ssrc: 0x1111, info: info, reports: [block]))
        guard case .sourceDescription(let chunks) = packets[1] else { return XCTFail("no SDES") }
        XCTAssertEqual(chunks.first?.ssrc, 0x1111)
        XCTAssertEqual(chunks.first?.items, [RTCPSDESItem(type: 1, value: Array("tandem@node".utf8))])
    }

    func testReceiverReport() throws {
        let packets = try RTCP.parse(RTCP.report(ssrc: 7, info: nil, reports: [block, block], cname: "x"))
        XCTAssertEqual(packets.first, .receiverReport(ssrc: 7, reports: [block, block]))
    }

    func testByeFeedbackAndExtendedReports() throws {
        var bytes: [UInt8] = [0x81, 203, 0, 3, 0, 0, 0, 9, 4, 0x62, 0x79, 0x65, 0x21, 0, 0, 0]  // BYE "bye!"
        bytes += [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]  // PSFB PLI
        bytes += [0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x10, 0x00, 0x01]  // RTPFB NACK pid 16, blp 1
        bytes += [0x80, 207, 0, 3, 0, 0, 0, 1, 4, 0, 0, 1, 1, 2, 3, 4]  // XR with one RRT block
        let packets = try RTCP.parse(bytes)
        XCTAssertEqual(packets[0], .goodbye(ssrcs: [9], reason: Array("bye!".utf8)))
        XCTAssertEqual(packets[1], .payloadFeedback(RTCPFeedback(format: 1, senderSSRC: 1, mediaSSRC: 2, feedbackControlInformation: [])))
        XCTAssertEqual(packets[2], .transportFeedback(RTCPFeedback(format: 1, senderSSRC: 1, mediaSSRC: 2, feedbackControlInformation: [0, 0x10, 0, 1])))
        XCTAssertEqual(packets[3], .extendedReport(ssrc: 1, blocks: [RTCPExtendedReportBlock(type: 4, typeSpecific: 0, content: [1, 2, 3, 4])]))
    }

    func testReducedSizeFeedbackAlone() throws {
        XCTAssertEqual(try RTCP.parse([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]).count, 1, "RFC 5506: no SR/RR first")
    }

    func testMalformedRTCPIsRefused() {
        XCTAssertThrowsError(try RTCP.parse([0x81, 200, 0, 20, 0, 0, 0, 1]), "length beyond the datagram")
        XCTAssertThrowsError(try RTCP.parse([0x41, 200, 0, 0]), "version 1")
        XCTAssertThrowsError(try RTCP.parse([0x81, 201, 0, 1, 0, 0, 0, 1]), "report block truncated")
        XCTAssertThrowsError(try RTCP.parse([0xA0, 201, 0, 1, 0, 0, 0, 1, 0x80, 201, 0, 0]), "padding on a packet that is not the last")
        XCTAssertThrowsError(try RTCP.parse([]))
    }
}

final class ReceiveStatisticsTests: XCTestCase {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    /// Feeds packets 20 ms apart at 8 kHz; `delay` adds network delay per packet in ms.
    private func feed(_ stats: inout ReceiveStatistics, sequences: [UInt16], delay: (Int) -> Int64 = { _ in 0 }) {
        for (index, sequence) in sequences.enumerated() {
            let sent = Int64(sequence) * 20
            stats.received(sequence: sequence, rtpTimestamp: UInt32(truncatingIfNeeded: Int64(sequence) * 160),
                           arrival: start + .milliseconds(sent + delay(index)), payloadBytes: 160)
        }
    }

    func testInOrderStreamHasNoLossAndNoJitter() {
        var stats = ReceiveStatistics(clockRate: 8000)
        feed(&stats, sequences: Array(0..<100))
        let report = stats.reportBlock(ssrc: 1, now: start)
        XCTAssertEqual(report.cumulativeLost, 0)
        XCTAssertEqual(report.fractionLost, 0)
        XCTAssertEqual(report.jitter, 0)
        XCTAssertEqual(report.extendedHighestSequence, 99)
    }

    func testLossAndFractionLost() {
        var stats = ReceiveStatistics(clockRate: 8000)
        feed(&stats, sequences: Array(0..<50) + Array(60..<100))  // 10 lost
        let first = stats.reportBlock(ssrc: 1, now: start)
        XCTAssertEqual(first.cumulativeLost, 10)
        XCTAssertEqual(first.fractionLost, UInt8(10 * 256 / 99), "10 of the 99 expected since the base")
        feed(&stats, sequences: Array(100..<200))
        let second = stats.reportBlock(ssrc: 1, now: start)
        XCTAssertEqual(second.fractionLost, 0, "nothing lost in the second interval")
        XCTAssertEqual(second.cumulativeLost, 10)
    }

    func testSequenceWrapCountsCycles() {
        var stats = ReceiveStatistics(clockRate: 8000)
        feed(&stats, sequences: (65530...65535).map { UInt16($0) } + (0...5).map { UInt16($0) })
        XCTAssertEqual(stats.extendedHighestSequence, 65536 + 5)
        XCTAssertEqual(stats.reportBlock(ssrc: 1, now: start).cumulativeLost, 0)
    }

    func testJitterFollowsRFC3550() {
        var stats = ReceiveStatistics(clockRate: 8000)
        // Every other packet 10 ms late: |D| is 80 timestamp units each time, so J tends to 80.
        feed(&stats, sequences: Array(0..<400)) { $0 % 2 == 0 ? 0 : 10 }
        XCTAssertTrue((76...80).contains(stats.jitter), "jitter \(stats.jitter)")
    }

    func testDelaySinceLastSenderReport() {
        var stats = ReceiveStatistics(clockRate: 8000)
        feed(&stats, sequences: Array(0..<5))
        stats.receivedSenderReport(ntpTimestamp: 0x0000_1234_5678_0000, at: start)
        let report = stats.reportBlock(ssrc: 1, now: start + .seconds(1))
        XCTAssertEqual(report.lastSenderReport, 0x1234_5678)
        XCTAssertEqual(report.delaySinceLastSenderReport, 65536)
    }

    func testNTPTime() {
        XCTAssertEqual(NTPTime.timestamp(unixSeconds: 0) >> 32, 2_208_988_800)
        XCTAssertEqual(NTPTime.timestamp(unixSeconds: 0.5) & 0xFFFF_FFFF, 0x8000_0000)
    }
}
