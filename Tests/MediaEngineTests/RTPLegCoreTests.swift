import MediaEngine
import NIOCore
import RTP
import XCTest

final class RTPLegCoreTests: XCTestCase {
    private let signalled = try! SocketAddress(ipAddress: "192.0.2.80", port: 30000)
    private let natted = try! SocketAddress(ipAddress: "198.51.100.9", port: 41000)
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    private func packet(_ sequence: UInt16, ssrc: UInt32 = 0x1234) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xFF, count: 12 + 160)
        bytes.withUnsafeMutableBytes { RTPHeader.write(marker: false, payloadType: 0, sequenceNumber: sequence, timestamp: UInt32(sequence) * 160, ssrc: ssrc, into: $0) }
        return bytes
    }

    func testLatchesOnTheFirstPacketsSource() {
        let leg = RTPLegCore(remote: signalled, now: start)
        XCTAssertEqual(leg.send(rtp: packet(1), now: start).datagrams.first?.to, signalled, "before any packet: the SDP address")
        let first = leg.receive(packet(1), from: natted, now: start)
        XCTAssertEqual(first.events, [.latched(natted)])
        XCTAssertEqual(first.rtp.count, 1)
        XCTAssertEqual(leg.send(rtp: packet(2), now: start).datagrams.first?.to, natted, "symmetric RTP: back to where it came from")
        XCTAssertTrue(leg.receive(packet(2), from: signalled, now: start).rtp.isEmpty, "another source after latching is dropped")
        XCTAssertEqual(leg.counters.wrongSourceDropped, 1)
        XCTAssertEqual(leg.remoteRTCPAddress, try SocketAddress(ipAddress: "198.51.100.9", port: 41001), "RTCP on the next port")
    }

    func testStrictSourceAcceptsOnlyTheSignalledAddress() {
        let leg = RTPLegCore(remote: signalled, settings: .init(strictSource: true), now: start)
        XCTAssertTrue(leg.receive(packet(1), from: natted, now: start).rtp.isEmpty)
        XCTAssertEqual(leg.receive(packet(2), from: signalled, now: start).rtp.count, 1)
        XCTAssertEqual(leg.remoteAddress, signalled)
    }

    func testMediaTimeoutOnlyWhileThePeerShouldSend() {
        let leg = RTPLegCore(remote: signalled, settings: .init(mediaTimeout: .seconds(30), reportInterval: .seconds(3600)), now: start)
        _ = leg.receive(packet(1), from: signalled, now: start)
        XCTAssertEqual(leg.timeout(now: start + .seconds(29)).events, [])
        XCTAssertEqual(leg.timeout(now: start + .seconds(30)).events, [.mediaTimeout])
        XCTAssertEqual(leg.timeout(now: start + .seconds(31)).events, [], "reported once")

        let held = RTPLegCore(remote: signalled, settings: .init(mediaTimeout: .seconds(30), reportInterval: .seconds(3600)), now: start)
        held.setDirection(.sendonly, now: start)  // we hold the peer: it sends nothing
        XCTAssertEqual(held.timeout(now: start + .seconds(300)).events, [])
        XCTAssertTrue(held.send(rtp: packet(1), now: start).datagrams.count == 1)
        held.setDirection(.inactive, now: start)
        XCTAssertTrue(held.send(rtp: packet(2), now: start).datagrams.isEmpty, "nothing is sent while inactive")
    }

    func testReportsGoToTheRTCPPortWithStatistics() throws {
        let leg = RTPLegCore(remote: signalled, settings: .init(reportInterval: .seconds(5)), now: start)
        for n in 0..<10 { _ = leg.receive(packet(UInt16(n)), from: signalled, now: start + .milliseconds(Int64(n * 20))) }
        _ = leg.send(rtp: packet(100, ssrc: leg.localSSRC), now: start)
        let output = leg.timeout(now: start + .seconds(5), unixTime: 1_800_000_000)
        let report = try XCTUnwrap(output.datagrams.first)
        XCTAssertEqual(report.to, try SocketAddress(ipAddress: "192.0.2.80", port: 30001))
        guard case .senderReport(let ssrc, let info, let blocks) = try RTCP.parse(report.bytes).first else { return XCTFail() }
        XCTAssertEqual(ssrc, leg.localSSRC)
        XCTAssertEqual(info.packetCount, 1)
        XCTAssertEqual(info.ntpTimestamp >> 32, 1_800_000_000 + 2_208_988_800)
        XCTAssertEqual(blocks.first?.ssrc, 0x1234)
        XCTAssertEqual(blocks.first?.extendedHighestSequence, 9)
        XCTAssertEqual(blocks.first?.cumulativeLost, 0)
    }

    func testGarbageIsDroppedAndCounted() {
        let leg = RTPLegCore(remote: signalled, now: start)
        XCTAssertTrue(leg.receive([0x00, 0x01, 0x02], from: signalled, now: start).rtp.isEmpty)
        XCTAssertTrue(leg.receive([0x80, 0x00], from: signalled, now: start).rtp.isEmpty)
        XCTAssertEqual(leg.counters.malformedDropped, 2)
    }
}
