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
import TandemTestSupport
import XCTest

final class WebRTCLegSocketTests: XCTestCase {
    func testLegOnLoopbackCompletesICEAndDTLSAndCarriesSRTP() async throws {
        let group = try MediaLoopGroup(threads: 1)
        let peerCertificate = try DTLSCertificate.selfSigned(commonName: "browser")
        let tandemCertificate = try DTLSCertificate.selfSigned()
        let tandemPassword = "tandem-password-0123456789"
        let peer = LoopbackUDPSocket()
        let agent = ICELiteAgent(localUfrag: "tand", localPassword: tandemPassword, remoteUfrag: "peer", remotePassword: "peer-password-0123456789ab",
                                 localCandidates: [ICECandidate(address: ICETransportAddress(ipv4: 127, 0, 0, 1, port: 1))], now: .now())
        let core = try WebRTCLegCore(ice: agent, certificate: tandemCertificate, dtlsRole: .server, srtpProfiles: [.aes128CMSHA1_80],
                                     remoteFingerprint: peerCertificate.fingerprint(.sha256))
        let events = Mutex<[WebRTCLegEvent]>([])
        let received = Mutex<[[UInt8]]>([])
        let leg = try await WebRTCLeg.open(address: "127.0.0.1", port: 0, on: group.loops[0], core: core,
                                           onEvent: { event in events.withLock { $0.append(event) } },
                                           onRTP: { packet in received.withLock { $0.append(packet) } })
        let legPort = try XCTUnwrap(leg.localAddress?.port)

        // ICE: the browser's nominating check.
        var generator = SystemRandomNumberGenerator()
        peer.send(STUNMessage(type: .bindingRequest, transactionID: .random(using: &generator), attributes: [
            .username("tand:peer"), .priority(1), .iceControlling(7), .useCandidate,
        ]).encode(integrityPassword: tandemPassword, fingerprint: true), toPort: legPort)
        let response = try STUNMessage.parse(try XCTUnwrap(peer.receive()))
        XCTAssertTrue(response.verifyIntegrity(password: tandemPassword))

        // DTLS: the browser is the client.
        let dtls = try DTLSEndpoint(role: .client, certificate: peerCertificate, srtpProfiles: [.aes128CMSHA1_80],
                                    expectedRemoteFingerprint: tandemCertificate.fingerprint(.sha256))
        var keys: SRTPKeyingMaterial?
        for datagram in dtls.start(now: .now()).datagrams { peer.send(datagram, toPort: legPort) }
        while keys == nil, let datagram = peer.receive() {
            let output = dtls.receive(datagram, now: .now())
            for reply in output.datagrams { peer.send(reply, toPort: legPort) }
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
        peer.send(protected, toPort: legPort)
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
        await group.shutdown()
    }
}
