// A WebRTC leg on a real UDP socket on loopback, against a peer made of the protocol pieces
// (STUN check, DTLS client, SRTP) over its own UDP socket.

import DTLS
import ICE
import MediaEngine
import NIOCore
import NIOPosix
import RTP
import SRTP
import Synchronization
import XCTest

final class WebRTCLegSocketTests: XCTestCase {
    /// A blocking UDP socket on 127.0.0.1 for the peer.
    final class PeerSocket {
        let fd: Int32
        let port: Int

        init() {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                    bind(fd, pointer, length)
                    return getsockname(fd, pointer, &length)
                }
            }
            port = Int(UInt16(bigEndian: address.sin_port))
            var timeout = timeval(tv_sec: 3, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        func send(_ bytes: [UInt8], to port: Int) {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                    bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, target, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
        }

        func receive() -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: 2048)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n > 0 ? Array(buffer[0..<n]) : nil
        }
    }

    func testLegOnLoopbackCompletesICEAndDTLSAndCarriesSRTP() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let peerCertificate = try DTLSCertificate.selfSigned(commonName: "browser")
        let tandemCertificate = try DTLSCertificate.selfSigned()
        let tandemPassword = "tandem-password-0123456789"
        let peer = PeerSocket()
        let agent = ICELiteAgent(localUfrag: "tand", localPassword: tandemPassword, remoteUfrag: "peer", remotePassword: "peer-password-0123456789ab",
                                 localCandidates: [ICECandidate(address: ICETransportAddress(ipv4: 127, 0, 0, 1, port: 1))], now: .now())
        let core = try WebRTCLegCore(ice: agent, certificate: tandemCertificate, dtlsRole: .server, srtpProfiles: [.aes128CMSHA1_80],
                                     remoteFingerprint: peerCertificate.fingerprint(.sha256))
        let events = Mutex<[WebRTCLegEvent]>([])
        let received = Mutex<[[UInt8]]>([])
        let leg = try await WebRTCLeg.open(address: "127.0.0.1", port: 0, on: group.next(), core: core,
                                           onEvent: { event in events.withLock { $0.append(event) } },
                                           onRTP: { packet in received.withLock { $0.append(packet) } })
        let legPort = try XCTUnwrap(leg.localAddress?.port)

        // ICE: the browser's nominating check.
        var generator = SystemRandomNumberGenerator()
        peer.send(STUNMessage(type: .bindingRequest, transactionID: .random(using: &generator), attributes: [
            .username("tand:peer"), .priority(1), .iceControlling(7), .useCandidate,
        ]).encode(integrityPassword: tandemPassword, fingerprint: true), to: legPort)
        let response = try STUNMessage.parse(try XCTUnwrap(peer.receive()))
        XCTAssertTrue(response.verifyIntegrity(password: tandemPassword))

        // DTLS: the browser is the client.
        let dtls = try DTLSEndpoint(role: .client, certificate: peerCertificate, srtpProfiles: [.aes128CMSHA1_80],
                                    expectedRemoteFingerprint: tandemCertificate.fingerprint(.sha256))
        var keys: SRTPKeyingMaterial?
        for datagram in dtls.start(now: .now()).datagrams { peer.send(datagram, to: legPort) }
        while keys == nil, let datagram = peer.receive() {
            let output = dtls.receive(datagram, now: .now())
            for reply in output.datagrams { peer.send(reply, to: legPort) }
            for case .connected(_, let material) in output.events { keys = material }
        }
        let material = try XCTUnwrap(keys)
        // The leg sees the client's last flight and connects.
        for _ in 0..<100 where !events.withLock({ $0.contains(.connected(.aes128CMSHA1_80)) }) { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(events.withLock { $0 }, [.selected(try SocketAddress(ipAddress: "127.0.0.1", port: peer.port)), .connected(.aes128CMSHA1_80)])

        // SRTP both ways.
        let out = try SRTPSession(profile: .aes128CMSHA1_80, keyingMaterial: material, role: .client, direction: .outbound)
        let `in` = try SRTPSession(profile: .aes128CMSHA1_80, keyingMaterial: material, role: .client, direction: .inbound)
        var rtp = [UInt8](repeating: 0xD5, count: 12 + 160)
        rtp.withUnsafeMutableBytes { RTPHeader.write(marker: false, payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 5, into: $0) }
        var protected = rtp
        try out.protect(rtp: &protected)
        peer.send(protected, to: legPort)
        for _ in 0..<100 where received.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(received.withLock { $0 }, [rtp])

        leg.send(rtp: rtp)
        var back = try XCTUnwrap(peer.receive())
        try `in`.unprotect(rtp: &back)
        XCTAssertEqual(back, rtp)

        let counters = try await leg.counters()
        XCTAssertEqual(counters.rtpReceived, 1)
        XCTAssertEqual(counters.rtpSent, 1)
        await leg.close()
        try await group.shutdownGracefully()
    }
}
