import SDP
import XCTest

final class SDPAttributeTests: XCTestCase {
    func testRTPMapReadsEncodingClockAndChannelsAndWritesThemBack() throws {
        let opus = try RTPMap(parsing: "111 opus/48000/2")
        XCTAssertEqual(opus, RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2))
        XCTAssertEqual(opus.attributeValue, "111 opus/48000/2")
        XCTAssertNil(try RTPMap(parsing: "0 PCMU/8000").channels)
        XCTAssertThrowsError(try RTPMap(parsing: "200 opus/48000"))
        XCTAssertThrowsError(try RTPMap(parsing: "111 opus"))
    }

    func testFormatParametersSplitKeyValuePairsAndKeepRangesAsWritten() throws {
        let fmtp = try FormatParameters(parsing: "111 minptime=10; useinbandfec=1")
        XCTAssertEqual(fmtp.payloadType, 111)
        XCTAssertEqual(fmtp.value(of: "useinbandfec"), "1")
        XCTAssertEqual(fmtp.value(of: "MINPTIME"), "10")
        XCTAssertEqual(fmtp.attributeValue, "111 minptime=10; useinbandfec=1")
        let events = try FormatParameters(parsing: "101 0-16")
        XCTAssertEqual(events.parameterText, "0-16")
        XCTAssertEqual(events.parameters.first?.key, "0-16")
    }

    func testRTCPFeedbackExtmapGroupSSRCAndMSIDRoundTrip() throws {
        XCTAssertEqual(try RTCPFeedback(parsing: "96 nack pli"), RTCPFeedback(format: "96", type: "nack", parameter: "pli"))
        XCTAssertEqual(try RTCPFeedback(parsing: "* ccm fir").format, "*")
        let extmap = try ExtensionMap(parsing: "2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level")
        XCTAssertEqual(extmap.direction, .recvonly)
        XCTAssertEqual(extmap.attributeValue, "2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level")
        XCTAssertThrowsError(try ExtensionMap(parsing: "0 urn:x"))
        XCTAssertEqual(try MediaGroup(parsing: "BUNDLE 0 1 2").identifiers, ["0", "1", "2"])
        let ssrc = try SSRCAttribute(parsing: "1001211395 msid:stream track")
        XCTAssertEqual(ssrc.name, "msid")
        XCTAssertEqual(ssrc.value, "stream track")
        XCTAssertEqual(ssrc.attributeValue, "1001211395 msid:stream track")
        XCTAssertEqual(try MediaStreamID(parsing: "- track").streamID, "-")
    }

    func testFingerprintParsesEitherCaseAndWritesUpperCaseHex() throws {
        let fingerprint = try Fingerprint(parsing: "SHA-256 0a:ff:10")
        XCTAssertEqual(fingerprint.hashFunction, "sha-256")
        XCTAssertEqual(fingerprint.bytes, [0x0A, 0xFF, 0x10])
        XCTAssertEqual(fingerprint.attributeValue, "sha-256 0A:FF:10")
        XCTAssertThrowsError(try Fingerprint(parsing: "sha-256 0A:F"))
        XCTAssertThrowsError(try Fingerprint(parsing: "sha-256"))
    }

    func testCandidatesFollowTheRFC8839Grammar() throws {
        let srflx = try SDPCandidate(
            parsing:
                "842163049 1 udp 1686052607 203.0.113.7 61002 typ srflx raddr 192.0.2.20 rport 54321 generation 0 network-id 1")
        XCTAssertEqual(srflx.type, .serverReflexive)
        XCTAssertEqual(srflx.relatedAddress, "192.0.2.20")
        XCTAssertEqual(srflx.relatedPort, 54321)
        XCTAssertEqual(srflx.extensions.map(\.name), ["generation", "network-id"])
        XCTAssertEqual(
            srflx.attributeValue,
            "842163049 1 udp 1686052607 203.0.113.7 61002 typ srflx raddr 192.0.2.20 rport 54321 generation 0 network-id 1")

        let tcp = try SDPCandidate(parsing: "candidate:1 1 TCP 2105524479 192.0.2.31 9 typ host tcptype active")
        XCTAssertFalse(tcp.isUDP)
        XCTAssertEqual(tcp.extensions.first?.value, "active")
        let mdns = try SDPCandidate(parsing: "3348148302 1 udp 2113937151 6f0b8c1e-2a3d.local 64420 typ host")
        XCTAssertEqual(mdns.address, "6f0b8c1e-2a3d.local")

        for bad in [
            "1 1 udp 1 192.0.2.1 5000 host", "1 0 udp 1 192.0.2.1 5000 typ host", "1 1 udp 99999999999 192.0.2.1 5000 typ host",
            "1 1 udp 1 192.0.2.1 70000 typ host", "f_o 1 udp 1 192.0.2.1 5000 typ host", "1 1 udp 1 192.0.2.1 5000 typ host generation",
        ] {
            XCTAssertThrowsError(try SDPCandidate(parsing: bad), bad)
        }
    }

    func testHostCandidatePriorityFollowsRFC8445() {
        let candidate = SDPCandidate.host(address: "2001:db8::5", port: 40000)
        XCTAssertEqual(candidate.priority, 126 << 24 | 65535 << 8 | 255)
        XCTAssertEqual(candidate.attributeValue, "1 1 UDP 2130706431 2001:db8::5 40000 typ host")
    }

    func testDirectionsAnswerPerRFC3264() {
        XCTAssertEqual(MediaDirection.sendonly.answer(local: .sendrecv), .recvonly)
        XCTAssertEqual(MediaDirection.recvonly.answer(local: .sendrecv), .sendonly)
        XCTAssertEqual(MediaDirection.inactive.answer(local: .sendrecv), .inactive)
        XCTAssertEqual(MediaDirection.sendrecv.answer(local: .sendonly), .sendonly)
        XCTAssertEqual(MediaDirection.sendonly.answer(local: .sendonly), .inactive)
    }

    func testTypedAccessorsReadTheChromeAudioSection() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.chromeOffer)
        let audio = offer.media[0]
        XCTAssertEqual(offer.bundleGroup?.identifiers, ["0", "1", "2"])
        XCTAssertEqual(audio.mid, "0")
        XCTAssertEqual(audio.iceCredentials, SDPICECredentials(ufrag: "EsAw", pwd: "P2uYro0UCOQ4zxjKXaWCBui1"))
        XCTAssertEqual(audio.iceOptions, ["trickle"])
        XCTAssertEqual(audio.setup, .actpass)
        XCTAssertEqual(audio.direction, .sendrecv)
        XCTAssertTrue(audio.isRTCPMux)
        XCTAssertTrue(audio.isRTCPReducedSize)
        XCTAssertEqual(audio.candidates.count, 2)
        XCTAssertEqual(audio.fingerprints.first?.bytes.count, 32)
        XCTAssertEqual(audio.rtpMap(for: 126)?.clockRate, 8000)
        XCTAssertEqual(audio.formatParameters(for: "63")?.parameterText, "111/111")
        XCTAssertEqual(audio.rtcpFeedback(for: "111").map(\.type), ["transport-cc"])
        XCTAssertEqual(audio.extensionMaps.map(\.id), [1, 2, 3, 4])
        XCTAssertEqual(Set(audio.ssrcAttributes.map(\.ssrc)), [1_001_211_395])
        XCTAssertEqual(audio.mediaStreamIDs.first?.trackID, "9c0e7a52-1f4b-4d3e-8a6c-7b2d5e9f0a13")
        XCTAssertEqual(audio.payloadTypes, [111, 63, 9, 0, 8, 13, 110, 126])
        XCTAssertEqual(audio.rtcpPort, 9)
    }

    func testFirefoxSessionLevelFingerprintIsFoundFromTheMediaSection() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.firefoxOffer)
        let audio = offer.media[0]
        XCTAssertTrue(audio.fingerprints.isEmpty)
        XCTAssertEqual(audio.effectiveFingerprints(in: offer).count, 1)
        XCTAssertEqual(audio.effectiveICEOptions(in: offer), ["trickle"])
        XCTAssertTrue(audio.isEndOfCandidates)
        XCTAssertEqual(audio.ptime, nil)
    }

    func testPtimeAcceptsFractionalValues() {
        var media = MediaDescription(media: "audio", port: 1, proto: "RTP/AVP", formats: ["0"])
        media.addAttribute("ptime", "20.0")
        media.addAttribute("maxptime", "60")
        XCTAssertEqual(media.ptime, 20)
        XCTAssertEqual(media.maxptime, 60)
    }
}
