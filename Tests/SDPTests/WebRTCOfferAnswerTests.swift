import Foundation
import SDP
import XCTest

final class WebRTCOfferAnswerTests: XCTestCase {
    private let fingerprint = try! Fingerprint(
        hashFunction: "sha-256",
        hex: "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99")

    private func local(
        candidates: [SDPCandidate] = [.host(address: "192.0.2.1", port: 40000)], setup: SetupRole = .passive,
        direction: MediaDirection = .sendrecv, rtcpFeedback: Set<String> = []
    ) -> WebRTCLocalParameters {
        WebRTCLocalParameters(
            origin: SDPOrigin(username: "tandem", sessionID: 77, sessionVersion: 1, address: "192.0.2.1"),
            iceCredentials: SDPICECredentials(ufrag: "tndm", pwd: "abcdefghijklmnopqrstuvwx"), candidates: candidates,
            fingerprint: fingerprint, setupTowardActpass: setup, direction: direction, rtcpFeedback: rtcpFeedback)
    }

    private let opusFirst = AudioCodecPreferences(codecs: [.opus, .pcmu, .pcma, .telephoneEvent])
    private let g711First = AudioCodecPreferences(codecs: [.pcma, .pcmu, .opus, .telephoneEvent])

    private func answer(
        _ text: String, preferences: AudioCodecPreferences, local parameters: WebRTCLocalParameters? = nil
    ) throws -> (SessionDescription, NegotiatedAudio) {
        let offer = try SessionDescription(parsing: text)
        let result = try answerWebRTCOffer(offer, local: parameters ?? local(), preferences: preferences)
        // What we write must parse back to the same thing.
        XCTAssertEqual(try SessionDescription(parsing: result.answer.serialized), result.answer)
        return (result.answer, result.negotiated)
    }

    // MARK: Chrome

    func testChromeOfferKeepsAudioAndRejectsVideoAndDataInPlace() throws {
        let (answer, _) = try answer(SDPFixtures.chromeOffer, preferences: opusFirst)
        XCTAssertEqual(answer.media.map(\.media), ["audio", "video", "application"])
        XCTAssertEqual(answer.media.map(\.port), [40000, 0, 0])
        XCTAssertEqual(answer.media[1].formats, ["96"])
        XCTAssertEqual(answer.media[1].attributes, [SDPAttribute("mid", "1")])
        XCTAssertEqual(answer.media[2].proto, "UDP/DTLS/SCTP")
        XCTAssertEqual(answer.media[2].attributes, [SDPAttribute("mid", "2")])
        XCTAssertEqual(answer.bundleGroup, MediaGroup(semantics: "BUNDLE", identifiers: ["0"]))
        XCTAssertTrue(answer.isICELite)
        XCTAssertEqual(answer.connection, SDPConnection(address: "192.0.2.1"))
    }

    func testChromeOfferWithOpusPreferredAnswersOpusAndTelephoneEventAt48k() throws {
        let (answer, negotiated) = try answer(SDPFixtures.chromeOffer, preferences: opusFirst)
        let audio = answer.media[0]
        XCTAssertEqual(audio.formats, ["111", "110"])
        XCTAssertEqual(audio.proto, "UDP/TLS/RTP/SAVPF")
        XCTAssertEqual(audio.rtpMaps.map(\.attributeValue), ["111 opus/48000/2", "110 telephone-event/48000"])
        XCTAssertEqual(audio.formatParameters.map(\.attributeValue), ["111 minptime=10;useinbandfec=1"])
        XCTAssertEqual(audio.mid, "0")
        XCTAssertEqual(audio.setup, .passive)
        XCTAssertEqual(audio.direction, .sendrecv)
        XCTAssertTrue(audio.isRTCPMux)
        XCTAssertTrue(audio.isRTCPReducedSize)
        XCTAssertEqual(audio.iceCredentials, SDPICECredentials(ufrag: "tndm", pwd: "abcdefghijklmnopqrstuvwx"))
        XCTAssertEqual(audio.fingerprints, [fingerprint])
        XCTAssertEqual(audio.candidates, [.host(address: "192.0.2.1", port: 40000)])
        XCTAssertTrue(audio.isEndOfCandidates)
        XCTAssertEqual(audio.extensionMaps.map(\.attributeValue), [
            "1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        ], "not the MID extension: Tandem does not send it")
        XCTAssertTrue(audio.rtcpFeedback.isEmpty, "transport-cc is not echoed unless supported")
        XCTAssertFalse(audio.hasAttribute("ssrc"))

        XCTAssertEqual(negotiated.codec, .opus)
        XCTAssertEqual(negotiated.payloadType, 111)
        XCTAssertEqual(negotiated.clockRate, 48000)
        XCTAssertEqual(negotiated.channels, 2)
        XCTAssertEqual(negotiated.telephoneEvent, TelephoneEventFormat(payloadType: 110, clockRate: 48000))
        XCTAssertEqual(negotiated.ptime, 20)
        XCTAssertEqual(negotiated.direction, .sendrecv)
        XCTAssertEqual(negotiated.mid, "0")
        XCTAssertEqual(negotiated.remoteFormatParameters?.value(of: "useinbandfec"), "1")
        XCTAssertEqual(negotiated.remoteSSRC, 1_001_211_395)
        XCTAssertTrue(negotiated.rtcpMux)
        XCTAssertEqual(negotiated.remoteICE?.credentials, SDPICECredentials(ufrag: "EsAw", pwd: "P2uYro0UCOQ4zxjKXaWCBui1"))
        XCTAssertEqual(negotiated.remoteICE?.candidates.count, 2)
        XCTAssertEqual(negotiated.remoteICE?.options, ["trickle"])
        XCTAssertEqual(negotiated.remoteDTLS?.remoteSetup, .actpass)
        XCTAssertEqual(negotiated.remoteDTLS?.localRole, .passive)
        XCTAssertEqual(negotiated.remoteDTLS?.fingerprints.first?.hashFunction, "sha-256")
    }

    func testChromeOfferWithG711PreferredAnswersPCMAAndTelephoneEventAt8k() throws {
        let (answer, negotiated) = try answer(SDPFixtures.chromeOffer, preferences: g711First)
        let audio = answer.media[0]
        XCTAssertEqual(audio.formats, ["8", "126"])
        XCTAssertEqual(audio.rtpMaps.map(\.attributeValue), ["8 PCMA/8000", "126 telephone-event/8000"])
        XCTAssertTrue(audio.formatParameters.isEmpty)
        XCTAssertEqual(negotiated.codec, .pcma)
        XCTAssertEqual(negotiated.clockRate, 8000)
        XCTAssertEqual(negotiated.channels, 1)
        XCTAssertEqual(negotiated.telephoneEvent?.payloadType, 126)
        XCTAssertEqual(negotiated.telephoneEvent?.clockRate, 8000)
    }

    func testFeedbackIsEchoedOnlyForTheKeptPayloadTypeWhenSupported() throws {
        var chrome = try SessionDescription(parsing: SDPFixtures.chromeOffer)
        chrome.media[0].addAttribute("rtcp-fb", "63 nack")
        chrome.media[0].addAttribute("rtcp-fb", "111 nack")
        let result = try answerWebRTCOffer(chrome, local: local(rtcpFeedback: ["transport-cc", "nack"]), preferences: opusFirst)
        XCTAssertEqual(result.answer.media[0].rtcpFeedback.map(\.attributeValue), ["111 transport-cc", "111 nack"])
        XCTAssertFalse(result.answer.media[0].hasAttribute("fmtp") && result.answer.media[0].formatParameters(for: "63") != nil)
    }

    func testActiveRoleCanBeChosenTowardActpassAndPassiveOfferGetsActive() throws {
        var (_, negotiated) = try answer(SDPFixtures.chromeOffer, preferences: opusFirst, local: local(setup: .active))
        XCTAssertEqual(negotiated.remoteDTLS?.localRole, .active)
        let passive = SDPFixtures.chromeOffer.replacingFirst("a=setup:actpass", with: "a=setup:passive")
        let result = try answer(passive, preferences: opusFirst)
        negotiated = result.1
        XCTAssertEqual(result.0.media[0].setup, .active)
        XCTAssertEqual(negotiated.remoteDTLS?.localRole, .active)
    }

    func testLocalSSRCAndMSIDAreWrittenWhenGiven() throws {
        var parameters = local()
        parameters.ssrc = 12345
        parameters.cname = "tandem"
        parameters.msid = MediaStreamID(streamID: "gw", trackID: "audio")
        let (answer, _) = try answer(SDPFixtures.chromeOffer, preferences: opusFirst, local: parameters)
        XCTAssertEqual(answer.media[0].ssrcAttributes.map(\.attributeValue), ["12345 cname:tandem", "12345 msid:gw audio"])
        XCTAssertEqual(answer.media[0].mediaStreamIDs, [MediaStreamID(streamID: "gw", trackID: "audio")])
    }

    func testAnswerWithoutCandidatesUsesTheJSEPPlaceholderAddress() throws {
        let (answer, _) = try answer(SDPFixtures.chromeOffer, preferences: opusFirst, local: local(candidates: []))
        XCTAssertEqual(answer.media[0].port, 9)
        XCTAssertEqual(answer.connection?.address, "0.0.0.0")
    }

    // MARK: Firefox

    func testFirefoxOfferWithOpusHasNoTelephoneEventBecauseOnlyThe8kOneIsOffered() throws {
        let (answer, negotiated) = try answer(SDPFixtures.firefoxOffer, preferences: opusFirst)
        XCTAssertEqual(answer.media.map(\.port), [40000, 0])
        XCTAssertEqual(answer.media[0].formats, ["109"])
        XCTAssertEqual(answer.media[0].rtpMaps.map(\.attributeValue), ["109 opus/48000/2"])
        XCTAssertFalse(answer.media[0].isRTCPReducedSize, "rtcp-rsize is not offered for audio")
        XCTAssertEqual(answer.media[0].extensionMaps.map(\.id), [1], "audio level; not the MID extension, which Tandem does not send")
        XCTAssertEqual(answer.bundleGroup?.identifiers, ["0"])
        XCTAssertEqual(negotiated.codec, .opus)
        XCTAssertNil(negotiated.telephoneEvent)
        XCTAssertEqual(negotiated.remoteFormatParameters?.value(of: "stereo"), "1")
        XCTAssertEqual(negotiated.remoteICE?.credentials.ufrag, "1a2b3c4d")
        XCTAssertEqual(negotiated.remoteICE?.candidates.map(\.transport), ["UDP", "TCP"])
        XCTAssertEqual(negotiated.remoteICE?.endOfCandidates, true)
        XCTAssertEqual(negotiated.remoteDTLS?.fingerprints.count, 1, "session-level fingerprint")
    }

    func testFirefoxOfferWithG711PreferredKeepsTheOfferedTelephoneEventRange() throws {
        let (answer, negotiated) = try answer(SDPFixtures.firefoxOffer, preferences: g711First)
        XCTAssertEqual(answer.media[0].formats, ["8", "101"])
        XCTAssertEqual(answer.media[0].formatParameters.map(\.attributeValue), ["101 0-15"])
        XCTAssertEqual(negotiated.telephoneEvent, TelephoneEventFormat(payloadType: 101, clockRate: 8000, events: "0-15"))
    }

    // MARK: Safari

    func testSafariSendOnlyOfferIsAnsweredRecvonlyKeepingOurSource() throws {
        var parameters = local()
        parameters.ssrc = 999
        parameters.cname = "tandem"
        let (answer, negotiated) = try answer(SDPFixtures.safariSendOnlyOffer, preferences: opusFirst, local: parameters)
        XCTAssertEqual(answer.media.count, 1)
        XCTAssertEqual(answer.media[0].direction, .recvonly)
        // The source stays while the stream is paused: Chromium loses a stream whose source
        // leaves a hold answer and comes back in the resume answer.
        XCTAssertEqual(answer.media[0].ssrcAttributes.map(\.attributeValue), ["999 cname:tandem"])
        XCTAssertFalse(answer.media[0].isRTCPReducedSize)
        XCTAssertEqual(negotiated.direction, .recvonly)
        XCTAssertEqual(negotiated.remoteAddress, "198.51.100.44")
        XCTAssertEqual(negotiated.remotePort, 64420)
        XCTAssertEqual(negotiated.remoteICE?.candidates.first?.address, "6f0b8c1e-2a3d-4b5c-8e9f-0a1b2c3d4e5f.local")
    }

    func testInactiveOfferIsAnsweredInactive() throws {
        let text = SDPFixtures.chromeOffer.replacingFirst("a=sendrecv", with: "a=inactive")
        let (answer, negotiated) = try answer(text, preferences: opusFirst)
        XCTAssertEqual(answer.media[0].direction, .inactive)
        XCTAssertEqual(negotiated.direction, .inactive)
    }

    // MARK: Extra audio

    func testSecondAudioMLineIsRejectedAndLeavesTheBundleGroup() throws {
        var offer = try SessionDescription(parsing: SDPFixtures.chromeOffer)
        var second = offer.media[0]
        second.removeAttributes(named: "mid")
        second.addAttribute("mid", "3")
        offer.media.append(second)
        offer.attributes[0] = MediaGroup(semantics: "BUNDLE", identifiers: ["0", "1", "2", "3"]).attribute
        let result = try answerWebRTCOffer(offer, local: local(), preferences: opusFirst)
        XCTAssertEqual(result.answer.media.map(\.port), [40000, 0, 0, 0])
        XCTAssertEqual(result.answer.media[3].attributes, [SDPAttribute("mid", "3")])
        XCTAssertEqual(result.answer.bundleGroup?.identifiers, ["0"])
    }

    // MARK: Errors

    func testOffersMissingWebRTCRequirementsAreRejectedWithAReason() throws {
        let cases: [(String, SDPNegotiationError.Kind)] = [
            (SDPFixtures.chromeOffer.removingLines(prefix: "a=rtcp-mux"), .missingRTCPMux),
            (SDPFixtures.chromeOffer.removingLines(prefix: "a=ice-pwd"), .missingICECredentials),
            (SDPFixtures.chromeOffer.removingLines(prefix: "a=fingerprint"), .missingFingerprint),
            (SDPFixtures.firefoxOffer.removingLines(prefix: "a=fingerprint"), .missingFingerprint),
            (SDPFixtures.asteriskOffer, .unsupportedProtocol),
            (SDPFixtures.chromeOffer.replacingFirst("m=audio 9", with: "m=audio 0"), .noAudio),
        ]
        for (text, kind) in cases {
            let offer = try SessionDescription(parsing: text)
            XCTAssertThrowsError(try answerWebRTCOffer(offer, local: local(), preferences: opusFirst)) { error in
                let error = error as? SDPNegotiationError
                XCTAssertEqual(error?.kind, kind, "\(String(describing: error))")
                XCTAssertFalse(error?.reason.isEmpty ?? true)
            }
        }
    }

    func testOfferWithOnlyVideoHasNoAudio() throws {
        var offer = try SessionDescription(parsing: SDPFixtures.chromeOffer)
        offer.media.removeFirst()
        XCTAssertThrowsError(try answerWebRTCOffer(offer, local: local(), preferences: opusFirst)) { error in
            XCTAssertEqual((error as? SDPNegotiationError)?.kind, .noAudio)
            XCTAssertEqual((error as? SDPNegotiationError)?.warningCode, 304)
        }
    }

    func testOfferWithoutACommonCodecNamesWhatWasOffered() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.chromeOffer)
        XCTAssertThrowsError(
            try answerWebRTCOffer(offer, local: local(), preferences: AudioCodecPreferences(codecs: [.telephoneEvent]))
        ) { error in
            let error = error as? SDPNegotiationError
            XCTAssertEqual(error?.kind, .noCommonCodec)
            XCTAssertEqual(error?.warningCode, 305)
            XCTAssertTrue(error?.reason.contains("G722/8000") ?? false, "\(String(describing: error))")
        }
    }

    // MARK: Our offer toward a browser

    func testOfferTowardABrowserHasOneBundledAudioLineInPreferenceOrder() throws {
        let offer = makeWebRTCOffer(local: local(), preferences: opusFirst)
        XCTAssertEqual(try SessionDescription(parsing: offer.serialized), offer)
        XCTAssertEqual(offer.media.count, 1)
        let audio = offer.media[0]
        XCTAssertEqual(audio.proto, "UDP/TLS/RTP/SAVPF")
        XCTAssertEqual(audio.port, 40000)
        XCTAssertEqual(audio.formats, ["111", "0", "8", "110", "126"])
        XCTAssertEqual(audio.setup, .actpass)
        XCTAssertEqual(audio.mid, "0")
        XCTAssertTrue(audio.isRTCPMux)
        XCTAssertTrue(audio.isRTCPReducedSize)
        XCTAssertEqual(audio.rtpMap(for: 111)?.attributeValue, "111 opus/48000/2")
        XCTAssertEqual(audio.rtpMap(for: 110)?.clockRate, 48000)
        XCTAssertEqual(audio.rtpMap(for: 126)?.clockRate, 8000)
        XCTAssertEqual(audio.formatParameters(for: "111")?.parameterText, "minptime=10;useinbandfec=1")
        XCTAssertEqual(audio.formatParameters(for: "126")?.parameterText, "0-16")
        XCTAssertEqual(audio.fingerprints, [fingerprint])
        XCTAssertEqual(audio.candidates.count, 1)
        XCTAssertEqual(offer.bundleGroup?.identifiers, ["0"])
        XCTAssertTrue(offer.isICELite)
    }

    func testOpusFormatParametersFollowThePreferences() {
        var preferences = opusFirst
        preferences.opus = OpusFormatPreferences(
            minptime: 10, useInbandFEC: true, useDTX: true, maxPlaybackRate: 16000, spropMaxCaptureRate: 16000,
            maxAverageBitrate: 24000)
        let offer = makeWebRTCOffer(local: local(), preferences: preferences)
        XCTAssertEqual(
            offer.media[0].formatParameters(for: "111")?.parameterText,
            "minptime=10;useinbandfec=1;usedtx=1;maxplaybackrate=16000;sprop-maxcapturerate=16000;maxaveragebitrate=24000")
    }

    func testBrowserAnswerIsReadForCodecCredentialsAndRole() throws {
        let offer = makeWebRTCOffer(local: local(), preferences: opusFirst)
        let browserAnswer = try SessionDescription(
            parsing: SDPFixtures.crlf(
                """
                v=0
                o=- 5091735417339512521 2 IN IP4 127.0.0.1
                s=-
                t=0 0
                a=group:BUNDLE 0
                m=audio 9 UDP/TLS/RTP/SAVPF 111 110
                c=IN IP4 0.0.0.0
                a=rtcp:9 IN IP4 0.0.0.0
                a=candidate:2999745851 1 udp 2122260223 192.0.2.77 55000 typ host generation 0
                a=ice-ufrag:Ab12
                a=ice-pwd:Zx9yWv8uTs7rQp6oNm5lKj4i
                a=ice-options:trickle
                a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF
                a=setup:active
                a=mid:0
                a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
                a=recvonly
                a=rtcp-mux
                a=rtpmap:111 opus/48000/2
                a=fmtp:111 minptime=10;useinbandfec=1
                a=rtpmap:110 telephone-event/48000
                """))
        let negotiated = try applyWebRTCAnswer(browserAnswer, to: offer)
        XCTAssertEqual(negotiated.codec, .opus)
        XCTAssertEqual(negotiated.payloadType, 111)
        XCTAssertEqual(negotiated.telephoneEvent?.payloadType, 110)
        XCTAssertEqual(negotiated.direction, .sendonly)
        XCTAssertEqual(negotiated.mid, "0")
        XCTAssertEqual(negotiated.remoteICE?.credentials.ufrag, "Ab12")
        XCTAssertEqual(negotiated.remoteICE?.candidates.first?.port, 55000)
        XCTAssertEqual(negotiated.remoteDTLS?.remoteSetup, .active)
        XCTAssertEqual(negotiated.remoteDTLS?.localRole, .passive)
        XCTAssertEqual(negotiated.headerExtensions.map(\.uri), [ExtensionMap.audioLevel])

        let actpass = try SessionDescription(parsing: browserAnswer.serialized.replacingFirst("a=setup:active", with: "a=setup:actpass"))
        XCTAssertThrowsError(try applyWebRTCAnswer(actpass, to: offer)) {
            XCTAssertEqual(($0 as? SDPNegotiationError)?.kind, .invalidAnswer)
        }
        var unoffered = browserAnswer
        unoffered.media[0].formats = ["9"]
        XCTAssertThrowsError(try applyWebRTCAnswer(unoffered, to: offer)) {
            XCTAssertEqual(($0 as? SDPNegotiationError)?.kind, .noCommonCodec)
        }
        var rejected = browserAnswer
        rejected.media[0].port = 0
        XCTAssertThrowsError(try applyWebRTCAnswer(rejected, to: offer)) {
            XCTAssertEqual(($0 as? SDPNegotiationError)?.kind, .noAudio)
        }
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }

    func removingLines(prefix: String) -> String {
        split(separator: "\r\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix(prefix) }.joined(separator: "\r\n")
    }
}
