// A trunk RTP leg on real loopback sockets: it latches on the trunk's first packet and sends
// back to where the trunk sends from (symmetric RTP), with reports on the RTCP port.

#if canImport(Glibc)
import Glibc
#endif
import MediaEngine
import NIOCore
import NIOPosix
import RTP
import Synchronization
import TandemTestSupport
import XCTest

final class RTPLegSocketTests: XCTestCase {
    func testLatchingAndSymmetricRTPOnLoopback() async throws {
        let group = try MediaLoopGroup(threads: 1)
        let trunk = LoopbackUDPSocket()
        // The SDP said another port; the packets come from `trunk` (a NAT, say).
        let core = RTPLegCore(remote: try SocketAddress(ipAddress: "127.0.0.1", port: 9), settings: .init(rtcpMux: true), now: .now())
        let events = Mutex<[RTPLegEvent]>([])
        let received = Mutex<[[UInt8]]>([])
        let leg = try await RTPLeg.open(address: "127.0.0.1", port: 0, on: group.loops[0], core: core,
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
        await group.shutdown()
    }

    /// The same leg read in batches by a poller (a transcoded call's sockets): datagrams and their
    /// sources come through recvmmsg, a second source is told apart from the latched one, RTCP
    /// arrives on its own socket, and closing gives the ports back (the poller's duplicate
    /// descriptor is closed too).
    func testBatchedReadsKeepSourcesAndReleaseThePorts() async throws {
        let group = try MediaLoopGroup(threads: 1)
        let trunk = LoopbackUDPSocket()
        let stranger = LoopbackUDPSocket()
        let core = RTPLegCore(remote: try SocketAddress(ipAddress: "127.0.0.1", port: trunk.port), settings: .init(rtcpMux: false), now: .now())
        let received = Mutex<[[UInt8]]>([])
        // An even port with a free odd neighbour for RTCP: the first pair that binds.
        var opened: (RTPLeg, Int)?
        for _ in 0..<20 where opened == nil {
            let port = LoopbackUDPSocket.freePort() & ~1
            opened = try? await (RTPLeg.open(address: "127.0.0.1", port: port, on: group.loops[0], core: core, onEvent: { _ in },
                                             onRTP: { packet in received.withLock { $0.append(packet) } }), port)
        }
        let (leg, port) = try XCTUnwrap(opened)
        leg.readInBatches(every: .milliseconds(5))
        try await Task.sleep(for: .milliseconds(20))

        func packet(_ sequence: UInt16) -> [UInt8] {
            var packet = [UInt8](repeating: 0xD5, count: 12 + 160)
            packet.withUnsafeMutableBytes {
                RTPHeader.write(marker: false, payloadType: 8, sequenceNumber: sequence, timestamp: UInt32(sequence) * 160, ssrc: 77, into: $0)
            }
            return packet
        }
        for sequence: UInt16 in 1...3 { trunk.send(packet(sequence), toPort: port) }
        for _ in 0..<100 where received.withLock({ $0.count < 3 }) { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(received.withLock { $0 }, [packet(1), packet(2), packet(3)], "all three, in order, in one batch")

        stranger.send(packet(4), toPort: port)
        trunk.send(packet(5), toPort: port)
        for _ in 0..<100 where received.withLock({ $0.count < 4 }) { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(received.withLock { $0.last }, packet(5))
        var counters = try await leg.counters()
        XCTAssertEqual(counters.rtpReceived, 4)
        XCTAssertEqual(counters.wrongSourceDropped, 1, "the second source is not the latched one")

        // A receiver report from the trunk's RTCP port reaches the RTCP socket's batch reads.
        let report = RTCP.report(ssrc: 77, info: nil, reports: [], cname: "trunk")
        let trunkRTCP = LoopbackUDPSocket()
        trunkRTCP.send(report, toPort: port + 1)
        for _ in 0..<100 {
            counters = try await leg.counters()
            if counters.rtcpReceived > 0 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTAssertEqual(counters.rtcpReceived, 1)

        leg.send(rtp: packet(6))
        XCTAssertEqual(trunk.receive(), packet(6))
        await leg.close()

        // Both ports are free again: nothing (not the poller's copy) still holds them.
        let again = try await RTPLeg.open(address: "127.0.0.1", port: port, on: group.loops[0],
                                          core: RTPLegCore(remote: try SocketAddress(ipAddress: "127.0.0.1", port: 9), now: .now()),
                                          onEvent: { _ in }, onRTP: { _ in })
        await again.close()
        await group.shutdown()
    }

    /// Batched reads on an IPv6 leg: the source comes from a sockaddr_in6, and the leg latches on
    /// it and answers there.
    func testBatchedReadsOnIPv6() async throws {
        let peer = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(peer) }
        var local = sockaddr_in6()
        local.sin6_family = sa_family_t(AF_INET6)
        local.sin6_addr = in6addr_loopback
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let bound = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(peer, $0, length) == 0 && getsockname(peer, $0, &length) == 0 }
        }
        guard bound else {
            // A property of this machine (IPv6 off, or no ::1 on lo), not a missing peer: the one
            // skip the suite keeps. Said on stdout too, so it stands out in a CI log.
            let message = "no IPv6 loopback here: binding [::1]:0 failed (\(String(cString: strerror(errno)))); the IPv6 batched-read path was NOT tested"
            print("SKIPPED RTPLegSocketTests.testBatchedReadsOnIPv6: \(message)")
            throw XCTSkip(message)
        }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let peerPort = Int(UInt16(bigEndian: local.sin6_port))

        let group = try MediaLoopGroup(threads: 1)
        let received = Mutex<[[UInt8]]>([])
        let events = Mutex<[RTPLegEvent]>([])
        let core = RTPLegCore(remote: try SocketAddress(ipAddress: "::1", port: 9), settings: .init(rtcpMux: true), now: .now())
        let leg = try await RTPLeg.open(address: "::1", port: 0, on: group.loops[0], core: core,
                                        onEvent: { event in events.withLock { $0.append(event) } },
                                        onRTP: { packet in received.withLock { $0.append(packet) } })
        leg.readInBatches(every: .milliseconds(5))
        try await Task.sleep(for: .milliseconds(20))
        let port = try XCTUnwrap(leg.localAddress?.port)

        var packet = [UInt8](repeating: 0xFF, count: 12 + 160)
        packet.withUnsafeMutableBytes { RTPHeader.write(marker: false, payloadType: 0, sequenceNumber: 9, timestamp: 1440, ssrc: 5, into: $0) }
        var target = local
        target.sin6_port = in_port_t(UInt16(port).bigEndian)
        _ = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                packet.withUnsafeBytes { sendto(peer, $0.baseAddress, $0.count, 0, address, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        for _ in 0..<100 where received.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(received.withLock { $0 }, [packet])
        XCTAssertEqual(events.withLock { $0 }, [.latched(try SocketAddress(ipAddress: "::1", port: peerPort))])

        leg.send(rtp: packet)
        var reply = [UInt8](repeating: 0, count: 2048)
        let count = reply.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, 0) }
        XCTAssertEqual(count, packet.count, "sent back to the latched IPv6 source")
        await leg.close()
        await group.shutdown()
    }
}
