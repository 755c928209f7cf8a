import Foundation
import SDP
import XCTest

final class PlainRTPOfferAnswerTests: XCTestCase {
    private let origin = SDPOrigin(username: "tandem", sessionID: 9001, sessionVersion: 1, address: "192.0.2.1")
    private let g711 = AudioCodecPreferences(codecs: [.pcmu, .pcma, .telephoneEvent])

    func testTrunkOfferIsAnsweredWithTheFirstPreferredCodecAndTelephoneEvent() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.asteriskOffer)
        let (answer, negotiated) = try answerPlainOffer(
            offer, address: "192.0.2.1", port: 30000, preferences: g711, origin: origin)
        XCTAssertEqual(
            answer.serialized,
            SDPFixtures.crlf(
                """
                v=0
                o=tandem 9001 1 IN IP4 192.0.2.1
                s=-
                c=IN IP4 192.0.2.1
                t=0 0
                m=audio 30000 RTP/AVP 0 101
                a=rtpmap:0 PCMU/8000
                a=rtpmap:101 telephone-event/8000
                a=fmtp:101 0-16
                a=ptime:20
                a=sendrecv
                """))
        XCTAssertEqual(negotiated.codec, .pcmu)
        XCTAssertEqual(negotiated.payloadType, 0)
        XCTAssertEqual(negotiated.clockRate, 8000)
        XCTAssertEqual(negotiated.telephoneEvent, TelephoneEventFormat(payloadType: 101, clockRate: 8000, events: "0-16"))
        XCTAssertEqual(negotiated.remoteAddress, "198.51.100.10")
        XCTAssertEqual(negotiated.remotePort, 17832)
        XCTAssertEqual(negotiated.ptime, 20)
        XCTAssertEqual(negotiated.maxptime, 150)
        XCTAssertEqual(negotiated.direction, .sendrecv)
        XCTAssertNil(negotiated.remoteICE)
        XCTAssertNil(negotiated.remoteDTLS)
    }

    func testPCMAPreferenceAndNoTelephoneEventWhenNotWanted() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.asteriskOffer)
        let (answer, negotiated) = try answerPlainOffer(
            offer, address: "192.0.2.1", port: 30000, preferences: AudioCodecPreferences(codecs: [.pcma, .pcmu]),
            origin: origin)
        XCTAssertEqual(answer.media[0].formats, ["8"])
        XCTAssertEqual(negotiated.codec, .pcma)
        XCTAssertNil(negotiated.telephoneEvent)
    }

    func testStaticPayloadTypesWithoutRtpmapAreRecognised() throws {
        let offer = try SessionDescription(
            parsing: "v=0\r\no=- 1 1 IN IP4 198.51.100.2\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18 8\r\na=ptime:30\r\n")
        let (_, negotiated) = try answerPlainOffer(offer, address: "192.0.2.1", port: 30000, preferences: g711, origin: origin)
        XCTAssertEqual(negotiated.codec, .pcma)
        XCTAssertEqual(negotiated.ptime, 30)
    }

    func testHoldOffersAreAnsweredPerRFC3264AndTheOldZeroAddressForm() throws {
        let sendonly = try SessionDescription(parsing: SDPFixtures.asteriskOffer.replacingOccurrences(of: "a=sendrecv", with: "a=sendonly"))
        let held = try answerPlainOffer(sendonly, address: "192.0.2.1", port: 30000, preferences: g711, origin: origin)
        XCTAssertEqual(held.answer.media[0].direction, .recvonly)
        XCTAssertEqual(held.negotiated.direction, .recvonly)

        let zero = try SessionDescription(
            parsing: SDPFixtures.asteriskOffer.replacingOccurrences(of: "c=IN IP4 198.51.100.10", with: "c=IN IP4 0.0.0.0"))
        let oldHold = try answerPlainOffer(zero, address: "192.0.2.1", port: 30000, preferences: g711, origin: origin)
        XCTAssertEqual(oldHold.negotiated.direction, .recvonly)
    }

    func testSRTPAndVideoLinesAreRejectedInPlaceWhileThePlainAudioLineIsAccepted() throws {
        let offer = try SessionDescription(
            parsing: SDPFixtures.crlf(
                """
                v=0
                o=- 1 1 IN IP4 198.51.100.3
                s=-
                c=IN IP4 198.51.100.3
                t=0 0
                m=audio 6000 RTP/SAVP 0
                a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
                m=audio 6002 RTP/AVP 0 101
                a=rtpmap:101 telephone-event/8000
                m=video 6004 RTP/AVP 34
                """))
        let (answer, negotiated) = try answerPlainOffer(
            offer, address: "192.0.2.1", port: 30000, preferences: g711, origin: origin)
        XCTAssertEqual(answer.media.map(\.port), [0, 30000, 0])
        XCTAssertEqual(answer.media[0].proto, "RTP/SAVP")
        XCTAssertTrue(answer.media[0].attributes.isEmpty)
        XCTAssertEqual(answer.media[1].formatParameters(for: "101")?.parameterText, "0-16")
        XCTAssertEqual(negotiated.mediaIndex, 1)
        XCTAssertEqual(negotiated.remotePort, 6002)
    }

    func testPlainAnswerRejectsUnsupportedProtocolsAndCodecs() throws {
        let srtpOnly = try SessionDescription(parsing: SDPFixtures.asteriskOffer.replacingOccurrences(of: "RTP/AVP", with: "RTP/SAVP"))
        XCTAssertThrowsError(try answerPlainOffer(srtpOnly, address: "192.0.2.1", port: 1, preferences: g711, origin: origin)) {
            XCTAssertEqual(($0 as? SDPNegotiationError)?.kind, .unsupportedProtocol)
            XCTAssertEqual(($0 as? SDPNegotiationError)?.warningCode, 302)
        }
        let webRTC = try SessionDescription(parsing: SDPFixtures.chromeOffer)
        XCTAssertThrowsError(try answerPlainOffer(webRTC, address: "192.0.2.1", port: 1, preferences: g711, origin: origin)) {
            XCTAssertEqual(($0 as? SDPNegotiationError)?.kind, .unsupportedProtocol)
        }
        let asterisk = try SessionDescription(parsing: SDPFixtures.asteriskOffer)
        XCTAssertThrowsError(
            try answerPlainOffer(
                asterisk, address: "192.0.2.1", port: 1, preferences: AudioCodecPreferences(codecs: [.opus]), origin: origin)
        ) {
            XCTAssertEqual(($0 as? SDPNegotiationError)?.kind, .noCommonCodec)
        }
    }

    func testOfferTowardATrunkAndItsAnswer() throws {
        let offer = makePlainOffer(address: "192.0.2.1", port: 30000, preferences: g711, origin: origin)
        XCTAssertEqual(
            offer.serialized,
            SDPFixtures.crlf(
                """
                v=0
                o=tandem 9001 1 IN IP4 192.0.2.1
                s=-
                c=IN IP4 192.0.2.1
                t=0 0
                m=audio 30000 RTP/AVP 0 8 101
                a=rtpmap:0 PCMU/8000
                a=rtpmap:8 PCMA/8000
                a=rtpmap:101 telephone-event/8000
                a=fmtp:101 0-16
                a=ptime:20
                a=sendrecv
                """))

        // The trunk answers with its own (Asterisk-like) SDP choosing PCMA.
        let answer = try SessionDescription(
            parsing: SDPFixtures.crlf(
                """
                v=0
                o=- 1696512399 1696512399 IN IP4 198.51.100.10
                s=Asterisk
                c=IN IP4 198.51.100.10
                t=0 0
                m=audio 17900 RTP/AVP 8 101
                a=rtpmap:8 PCMA/8000
                a=rtpmap:101 telephone-event/8000
                a=fmtp:101 0-16
                a=ptime:20
                a=maxptime:150
                a=sendrecv
                """))
        let negotiated = try applyPlainAnswer(answer, to: offer)
        XCTAssertEqual(negotiated.codec, .pcma)
        XCTAssertEqual(negotiated.payloadType, 8)
        XCTAssertEqual(negotiated.telephoneEvent?.payloadType, 101)
        XCTAssertEqual(negotiated.remoteAddress, "198.51.100.10")
        XCTAssertEqual(negotiated.remotePort, 17900)
        XCTAssertEqual(negotiated.direction, .sendrecv)

        var recvonly = answer
        recvonly.media[0].removeAttributes(named: "sendrecv")
        recvonly.media[0].attributes.append(MediaDirection.recvonly.attribute)
        XCTAssertEqual(try applyPlainAnswer(recvonly, to: offer).direction, .sendonly)

        var extra = answer
        extra.media.append(answer.media[0])
        XCTAssertThrowsError(try applyPlainAnswer(extra, to: offer)) {
            XCTAssertEqual(($0 as? SDPNegotiationError)?.kind, .invalidAnswer)
        }
    }

    func testOpusOfferedToATrunkGetsItsOwnTelephoneEvent() {
        let offer = makePlainOffer(
            address: "2001:db8::1", port: 30000, preferences: AudioCodecPreferences(codecs: [.opus, .pcmu, .telephoneEvent]),
            origin: SDPOrigin(sessionID: 1, sessionVersion: 2, address: "2001:db8::1"), direction: .sendonly)
        XCTAssertEqual(offer.connection, SDPConnection(networkType: "IN", addressType: "IP6", address: "2001:db8::1"))
        XCTAssertEqual(offer.media[0].formats, ["96", "0", "100", "101"])
        XCTAssertEqual(offer.media[0].rtpMap(for: 100)?.clockRate, 48000)
        XCTAssertEqual(offer.media[0].direction, .sendonly)
    }
}
