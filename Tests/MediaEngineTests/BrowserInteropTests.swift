// Tandem's WebRTC leg against real WebRTC stacks: aiortc (a full ICE agent offering actpass) and
// headless Chromium. The browser's offer is answered by Tandem's SDP offer/answer (ice-lite,
// setup:passive, PCMU), ICE and DTLS complete, and SRTP flows both ways: Tandem sends a 440 Hz
// tone that the browser must hear (FFT), and must receive the browser's audio. Once per SRTP
// profile, held on Tandem's side (the DTLS server picks). The peers are Tests/Interop/*_peer.py in
// the project's virtual environment (scripts/install-interop.sh and install-deps.sh, run by
// `make test`).

import AudioCodecs
import DTLS
import Foundation
import ICE
import MediaEngine
import NIOCore
import NIOPosix
import RTP
import SDP
import Synchronization
import TandemTestPeers
import TandemTestSupport
import XCTest

final class BrowserInteropTests: XCTestCase {
    func testSRTPBothWaysWithAiortcForEachProfile() async throws {
        try await run(script: "aiortc_peer.py", profiles: SRTPProtectionProfile.allCases)
    }

    /// Chromium offers the GCM profiles and SRTP_AES128_CM_SHA1_80, not _32.
    func testSRTPBothWaysWithHeadlessChromium() async throws {
        try requirePeer(anyOf: ["/usr/lib/chromium/chromium", "/usr/bin/chromium"], "Chromium (Debian chromium)")
        try await run(script: "chromium_peer.py", profiles: [.aeadAES256GCM, .aeadAES128GCM, .aes128CMSHA1_80])
    }

    private func run(script: String, profiles: [SRTPProtectionProfile]) async throws {
        try InteropPeer.require(script)
        let group = try MediaLoopGroup(threads: 1)
        for profile in profiles {
            do {
                try await exchange(script: script, profile: profile, group: group)
            } catch {
                XCTFail("\(profile): \(error)")
            }
        }
        await group.shutdown()
    }

    private func exchange(script: String, profile: SRTPProtectionProfile, group: MediaLoopGroup) async throws {
        let port = LoopbackUDPSocket.freePort()  // the daemon takes media ports from its pool
        let peer = try InteropPeer(script: script, arguments: ["--srtp-profile", profile.rawValue, "--duration", "2", "--timeout", "20"])
        let offerMessage = try peer.next()
        XCTAssertEqual(offerMessage["type"] as? String, "offer")
        let offer = try SessionDescription(parsing: try XCTUnwrap(offerMessage["sdp"] as? String))

        // Tandem's side: certificate, ICE credentials, the leg on a socket, then the answer.
        let certificate = try DTLSCertificate.selfSigned()
        var generator = SystemRandomNumberGenerator()
        let local = ICECredentials.generate(using: &generator)
        let remote = try XCTUnwrap(offer.media.first { $0.media == "audio" }?.effectiveICECredentials(in: offer))
        let events = Mutex<[WebRTCLegEvent]>([])
        let received = Mutex<Int>(0)
        let agent = ICELiteAgent(localUfrag: local.ufrag, localPassword: local.password, remoteUfrag: remote.ufrag, remotePassword: remote.pwd,
                                 localCandidates: [ICECandidate(address: ICETransportAddress(ipv4: 127, 0, 0, 1, port: UInt16(port)))], now: .now())
        let ours = certificate.fingerprint(.sha256)
        let theirs = try XCTUnwrap(offer.media.first { $0.media == "audio" }?.effectiveFingerprints(in: offer).first)
        let core = try WebRTCLegCore(ice: agent, certificate: certificate, dtlsRole: .server, srtpProfiles: [profile],
                                     remoteFingerprint: CertificateFingerprint(hash: .sha256, value: theirs.bytes.map { String(format: "%02X", $0) }.joined(separator: ":")))
        let leg = try await WebRTCLeg.open(address: "127.0.0.1", port: port, on: group.loops[0], core: core,
                                           onEvent: { event in events.withLock { $0.append(event) } },
                                           onRTP: { _ in received.withLock { $0 += 1 } })
        let parameters = WebRTCLocalParameters(
            origin: SDPOrigin(sessionID: "1", sessionVersion: 1, addressType: "IP4", address: "127.0.0.1"),
            iceCredentials: SDPICECredentials(ufrag: local.ufrag, pwd: local.password),
            candidates: [.host(address: "127.0.0.1", port: port)],
            fingerprint: try Fingerprint(hashFunction: "sha-256", hex: ours.value), ssrc: 0x7A4D_0001, cname: "tandem")
        let (answer, negotiated) = try answerWebRTCOffer(offer, local: parameters, preferences: AudioCodecPreferences(codecs: [.pcmu, .telephoneEvent]))
        XCTAssertEqual(negotiated.codec, .pcmu)
        try peer.send(["type": "answer", "sdp": answer.serialized])

        // Media once connected: 440 Hz µ-law, 20 ms packets, for about 2.5 s.
        let tone = (0..<160 * 200).map { MuLaw.encode(Int16(8000 * sin(2 * .pi * 440 * Double($0) / 8000))) }
        var sequence: UInt16 = 1
        for packet in 0..<150 {
            try await Task.sleep(for: .milliseconds(20))
            guard events.withLock({ $0.contains { if case .connected = $0 { return true } else { return false } } }) else { continue }
            var rtp = [UInt8](repeating: 0, count: 12 + 160)
            rtp.withUnsafeMutableBytes {
                RTPHeader.write(marker: packet == 0, payloadType: negotiated.payloadType, sequenceNumber: sequence, timestamp: UInt32(sequence) * 160,
                                ssrc: 0x7A4D_0001, into: $0)
            }
            rtp.replaceSubrange(12..., with: tone[(Int(sequence) * 160 % tone.count)..<(Int(sequence) * 160 % tone.count + 160)])
            leg.send(rtp: rtp)
            sequence &+= 1
        }
        let result = try peer.next()
        XCTAssertEqual(result["type"] as? String, "result")
        XCTAssertEqual(result["connected"] as? Bool, true, "\(profile): \(result)")
        XCTAssertTrue(events.withLock { $0.contains(.connected(profile)) }, "\(profile): \(events.withLock { $0 })")
        XCTAssertGreaterThan(received.withLock { $0 }, 20, "\(profile): Tandem received aiortc's SRTP")
        XCTAssertGreaterThan(result["framesReceived"] as? Int ?? 0, 20, "\(profile): aiortc received Tandem's SRTP")
        let frequency = result["dominantFrequency"] as? Double ?? 0
        XCTAssertTrue((400...480).contains(frequency), "\(profile): aiortc heard \(frequency) Hz")
        await leg.close()
    }
}
