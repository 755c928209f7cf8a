// The WebRTC leg core against a browser-like peer built from the same protocol pieces: a STUN
// check with USE-CANDIDATE (as a controlling full agent sends), a DTLS client (the browser
// offered actpass, Tandem answered passive), and SRTP with the exported keys.

import DTLS
import ICE
import MediaEngine
import NIOCore
import RTP
import SRTP
import XCTest

final class WebRTCLegCoreTests: XCTestCase {
    private let tandemAddress = try! SocketAddress(ipAddress: "127.0.0.1", port: 40000)
    private let peerAddress = try! SocketAddress(ipAddress: "127.0.0.1", port: 50000)
    private let strangerAddress = try! SocketAddress(ipAddress: "127.0.0.1", port: 50001)
    private let tandemPassword = "tandem-password-0123456789"
    private let peerPassword = "peer-password-0123456789ab"
    private var now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    private func makeLeg(peerCertificate: DTLSCertificate, tandemCertificate: DTLSCertificate, fingerprint: CertificateFingerprint? = nil,
                         profiles: [SRTPProtectionProfile] = SRTPProtectionProfile.allCases) throws -> WebRTCLegCore {
        let candidate = ICECandidate(address: ICETransportAddress(tandemAddress)!)
        let agent = ICELiteAgent(localUfrag: "tand", localPassword: tandemPassword, remoteUfrag: "peer", remotePassword: peerPassword,
                                 localCandidates: [candidate], now: now)
        return try WebRTCLegCore(ice: agent, certificate: tandemCertificate, dtlsRole: .server, srtpProfiles: profiles,
                                 remoteFingerprint: fingerprint ?? peerCertificate.fingerprint(.sha256))
    }

    /// The browser's connectivity check, nominating the pair.
    private func check() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let message = STUNMessage(type: .bindingRequest, transactionID: .random(using: &generator), attributes: [
            .username("tand:peer"), .priority(1_853_817_087), .iceControlling(42), .useCandidate,
        ])
        return message.encode(integrityPassword: tandemPassword, fingerprint: true)
    }

    /// Runs the DTLS handshake between the leg and the peer; returns the peer's SRTP profile.
    private func handshake(_ leg: WebRTCLegCore, peer: DTLSEndpoint) -> (events: [WebRTCLegEvent], peerProfile: SRTPProtectionProfile?, keys: SRTPKeyingMaterial?) {
        var toLeg = peer.start(now: now).datagrams
        var events: [WebRTCLegEvent] = []
        var peerProfile: SRTPProtectionProfile?
        var keys: SRTPKeyingMaterial?
        for _ in 0..<20 where !toLeg.isEmpty {
            var toPeer: [[UInt8]] = []
            for datagram in toLeg {
                let output = leg.receive(datagram, from: peerAddress, now: now)
                events += output.events
                toPeer += output.datagrams.filter { $0.to == peerAddress }.map(\.bytes)
            }
            toLeg = []
            for datagram in toPeer {
                let output = peer.receive(datagram, now: now)
                toLeg += output.datagrams
                for case .connected(let profile, let material) in output.events {
                    peerProfile = profile
                    keys = material
                }
            }
        }
        return (events, peerProfile, keys)
    }

    func testChecksThenDTLSThenSRTPBothWays() throws {
        let peerCertificate = try DTLSCertificate.selfSigned(commonName: "browser")
        let tandemCertificate = try DTLSCertificate.selfSigned()
        let leg = try makeLeg(peerCertificate: peerCertificate, tandemCertificate: tandemCertificate)

        // Before any check, DTLS from the peer is dropped: it has not passed ICE.
        let peer = try DTLSEndpoint(role: .client, certificate: peerCertificate, srtpProfiles: [.aeadAES256GCM, .aes128CMSHA1_80],
                                    expectedRemoteFingerprint: tandemCertificate.fingerprint(.sha256))
        let early = leg.receive(peer.start(now: now).datagrams[0], from: peerAddress, now: now)
        XCTAssertTrue(early.datagrams.isEmpty)
        XCTAssertEqual(leg.counters.unpermittedDropped, 1)

        let checked = leg.receive(check(), from: peerAddress, now: now)
        XCTAssertEqual(checked.events, [.selected(peerAddress)])
        let response = try STUNMessage.parse(try XCTUnwrap(checked.datagrams.first).bytes)
        XCTAssertEqual(response.type, .bindingSuccess)
        XCTAssertTrue(response.verifyIntegrity(password: tandemPassword))
        XCTAssertEqual(checked.datagrams.first?.to, peerAddress)

        let freshPeer = try DTLSEndpoint(role: .client, certificate: peerCertificate, srtpProfiles: [.aeadAES256GCM, .aes128CMSHA1_80],
                                         expectedRemoteFingerprint: tandemCertificate.fingerprint(.sha256))
        let result = handshake(leg, peer: freshPeer)
        XCTAssertEqual(result.events, [.connected(.aeadAES256GCM)])
        XCTAssertTrue(leg.isConnected)
        let keys = try XCTUnwrap(result.keys)

        // Browser -> Tandem.
        let peerOut = try SRTPSession(profile: .aeadAES256GCM, keyingMaterial: keys, role: .client, direction: .outbound)
        let peerIn = try SRTPSession(profile: .aeadAES256GCM, keyingMaterial: keys, role: .client, direction: .inbound)
        var plain = [UInt8](repeating: 0, count: 12 + 20)
        plain.withUnsafeMutableBytes { RTPHeader.write(marker: false, payloadType: 111, sequenceNumber: 1, timestamp: 960, ssrc: 0xBEEF, into: $0) }
        var protected = plain
        try peerOut.protect(rtp: &protected)
        XCTAssertEqual(leg.receive(protected, from: peerAddress, now: now).rtp, [plain])
        XCTAssertTrue(leg.receive(protected, from: peerAddress, now: now).rtp.isEmpty, "a replayed packet is dropped")
        XCTAssertEqual(leg.counters.srtpDropped, 1)
        XCTAssertTrue(leg.receive(protected, from: strangerAddress, now: now).rtp.isEmpty, "media from an unchecked address is dropped")

        // Tandem -> browser.
        var reply = plain
        reply.withUnsafeMutableBytes { RTPHeader.write(marker: false, payloadType: 111, sequenceNumber: 7, timestamp: 1920, ssrc: 0xCAFE, into: $0) }
        let sent = leg.send(rtp: reply)
        XCTAssertEqual(sent.datagrams.first?.to, peerAddress)
        var received = try XCTUnwrap(sent.datagrams.first).bytes
        try peerIn.unprotect(rtp: &received)
        XCTAssertEqual(received, reply)

        // Two seconds later the leg reports: an SR about its stream, a block about the browser's.
        let reports = leg.timeout(now: now + .seconds(2))
        var rtcp = try XCTUnwrap(reports.datagrams.first).bytes
        try peerIn.unprotectRTCP(&rtcp)
        let packets = try RTCP.parse(rtcp)
        guard case .senderReport(_, let info, let blocks) = packets.first else { return XCTFail("\(packets)") }
        XCTAssertEqual(info.packetCount, 1)
        XCTAssertEqual(info.octetCount, 20)
        XCTAssertEqual(blocks.map(\.ssrc), [0xBEEF])
        guard case .sourceDescription(let chunks) = packets.last else { return XCTFail("no SDES") }
        XCTAssertEqual(chunks.first?.items.first?.value, Array("tandem".utf8))
        XCTAssertEqual(leg.nextDeadline, now + .seconds(4), "the next report in one interval")
    }

    /// A browser that hangs up closes DTLS, and its BYE may come a moment later: the close is a
    /// media failure only when the call is still up two seconds on.
    func testAClosedDTLSIsAFailureOnlyAfterTheGrace() throws {
        let peerCertificate = try DTLSCertificate.selfSigned(commonName: "browser")
        let tandemCertificate = try DTLSCertificate.selfSigned()
        let leg = try makeLeg(peerCertificate: peerCertificate, tandemCertificate: tandemCertificate)
        _ = leg.receive(check(), from: peerAddress, now: now)
        let peer = try DTLSEndpoint(role: .client, certificate: peerCertificate, srtpProfiles: [.aeadAES256GCM],
                                    expectedRemoteFingerprint: tandemCertificate.fingerprint(.sha256))
        XCTAssertEqual(handshake(leg, peer: peer).events, [.connected(.aeadAES256GCM)])

        let closeNotify = try XCTUnwrap(peer.close(now: now).datagrams.first)
        let closed = leg.receive(closeNotify, from: peerAddress, now: now)
        XCTAssertTrue(closed.events.isEmpty, "not a failure yet: \(closed.events)")
        XCTAssertFalse(leg.isConnected, "nothing more is sent to a closed peer")
        XCTAssertEqual(leg.nextDeadline, now + WebRTCLegCore.closeGrace)
        XCTAssertTrue(leg.timeout(now: now + .milliseconds(1900)).events.isEmpty)
        XCTAssertEqual(leg.timeout(now: now + WebRTCLegCore.closeGrace).events, [.failed(.dtlsClosedByPeer)])
        XCTAssertNil(leg.nextDeadline)
    }

    func testEveryProfileNegotiates() throws {
        for profile in SRTPProtectionProfile.allCases {
            let peerCertificate = try DTLSCertificate.selfSigned(commonName: "browser")
            let tandemCertificate = try DTLSCertificate.selfSigned()
            let leg = try makeLeg(peerCertificate: peerCertificate, tandemCertificate: tandemCertificate, profiles: [profile])
            _ = leg.receive(check(), from: peerAddress, now: now)
            let peer = try DTLSEndpoint(role: .client, certificate: peerCertificate, srtpProfiles: SRTPProtectionProfile.allCases,
                                        expectedRemoteFingerprint: tandemCertificate.fingerprint(.sha256))
            XCTAssertEqual(handshake(leg, peer: peer).events, [.connected(profile)], "\(profile)")
        }
    }

    func testNothingIsSentBeforeDTLS() throws {
        let peerCertificate = try DTLSCertificate.selfSigned(commonName: "browser")
        let leg = try makeLeg(peerCertificate: peerCertificate, tandemCertificate: try DTLSCertificate.selfSigned())
        _ = leg.receive(check(), from: peerAddress, now: now)
        XCTAssertTrue(leg.send(rtp: [0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]).datagrams.isEmpty)
    }

    func testFingerprintMismatchFailsTheLeg() throws {
        let peerCertificate = try DTLSCertificate.selfSigned(commonName: "browser")
        let tandemCertificate = try DTLSCertificate.selfSigned()
        let wrong = try DTLSCertificate.selfSigned(commonName: "someone-else").fingerprint(.sha256)
        let leg = try makeLeg(peerCertificate: peerCertificate, tandemCertificate: tandemCertificate, fingerprint: wrong)
        _ = leg.receive(check(), from: peerAddress, now: now)
        let peer = try DTLSEndpoint(role: .client, certificate: peerCertificate, srtpProfiles: [.aes128CMSHA1_80],
                                    expectedRemoteFingerprint: tandemCertificate.fingerprint(.sha256))
        let events = handshake(leg, peer: peer).events
        XCTAssertEqual(events.count, 1)
        guard case .failed(let cause) = events.first else { return XCTFail("\(events)") }
        XCTAssertEqual(cause, .dtlsFingerprintMismatch)
        XCTAssertEqual(cause.label, "dtls_fingerprint_mismatch")
        XCTAssertTrue(cause.text.hasPrefix("DTLS fingerprintMismatch: "), cause.text)
        XCTAssertTrue(cause.text.contains("does not match a=fingerprint"), cause.text)
        XCTAssertFalse(leg.isConnected)
    }

    func testConsentExpiresThirtySecondsAfterTheLastCheck() throws {
        let peerCertificate = try DTLSCertificate.selfSigned(commonName: "browser")
        let leg = try makeLeg(peerCertificate: peerCertificate, tandemCertificate: try DTLSCertificate.selfSigned())
        _ = leg.receive(check(), from: peerAddress, now: now)
        let start = now
        now = start + .seconds(20)
        _ = leg.receive(check(), from: peerAddress, now: now)  // consent refreshed at 20 s
        XCTAssertEqual(leg.timeout(now: start + .seconds(49)).events, [])
        XCTAssertEqual(leg.timeout(now: start + .seconds(50)).events, [.failed(.iceConsentExpired)])
    }
}
