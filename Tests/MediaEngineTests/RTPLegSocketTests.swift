// A trunk RTP leg on real loopback sockets: it latches on the trunk's first packet and sends
// back to where the trunk sends from (symmetric RTP), with reports on the RTCP port.

import MediaEngine
import NIOCore
import NIOPosix
import RTP
import Synchronization
import TandemTestSupport
import XCTest

final class RTPLegSocketTests: XCTestCase {
    func testLatchingAndSymmetricRTPOnLoopback() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let trunk = LoopbackUDPSocket()
        // The SDP said another port; the packets come from `trunk` (a NAT, say).
        let core = RTPLegCore(remote: try SocketAddress(ipAddress: "127.0.0.1", port: 9), settings: .init(rtcpMux: true), now: .now())
        let events = Mutex<[RTPLegEvent]>([])
        let received = Mutex<[[UInt8]]>([])
        let leg = try await RTPLeg.open(address: "127.0.0.1", port: 0, on: group.next(), core: core,
                                        onEvent: { event in events.withLock { $0.append(event) } },
                                        onRTP: { packet in received.withLock { $0.append(packet) } })
        let port = try XCTUnwrap(leg.localAddress?.port)
        var packet = [UInt8](repeating: 0xD5, count: 12 + 160)
        packet.withUnsafeMutableBytes { RTPHeader.write(marker: false, payloadType: 8, sequenceNumber: 1, timestamp: 160, ssrc: 77, into: $0) }
        trunk.send(packet, toPort: port)
        for _ in 0..<100 where received.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(received.withLock { $0 }, [packet])
        XCTAssertEqual(events.withLock { $0 }, [.latched(try SocketAddress(ipAddress: "127.0.0.1", port: trunk.port))])

        leg.send(rtp: packet)
        XCTAssertEqual(trunk.receive(), packet, "sent back to the latched source")
        let counters = try await leg.counters()
        XCTAssertEqual(counters.rtpReceived, 1)
        XCTAssertEqual(counters.rtpSent, 1)
        await leg.close()
        try await group.shutdownGracefully()
    }
}
