import NIOCore
import SDP
import XCTest

final class SessionDescriptionSyntaxTests: XCTestCase {
    func testEveryFixtureSurvivesParseAndSerializeByteForByte() throws {
        for (name, text) in [
            ("chrome", SDPFixtures.chromeOffer), ("firefox", SDPFixtures.firefoxOffer),
            ("safari", SDPFixtures.safariSendOnlyOffer), ("asterisk", SDPFixtures.asteriskOffer),
        ] {
            let parsed = try SessionDescription(parsing: text)
            XCTAssertEqual(parsed.serialized, text, name)
        }
    }

    func testUnknownAttributesAreKeptInOrderWithTheirExactValues() throws {
        let text = SDPFixtures.crlf(
            """
            v=0
            o=- 1 1 IN IP4 192.0.2.1
            s=-
            t=0 0
            a=x-vendor-thing: spaced  value ;with=stuff
            a=x-flag
            a=x-empty:
            m=audio 4000 RTP/AVP 0
            a=x-media:1 2 3
            a=rtpmap:0 PCMU/8000
            a=x-media:again
            """)
        let parsed = try SessionDescription(parsing: text)
        XCTAssertEqual(parsed.attributes.map(\.name), ["x-vendor-thing", "x-flag", "x-empty"])
        XCTAssertEqual(parsed.attributes[0].value, " spaced  value ;with=stuff")
        XCTAssertNil(parsed.attributes[1].value)
        XCTAssertEqual(parsed.attributes[2].value, "")
        XCTAssertEqual(parsed.media[0].attributeValues("x-media"), ["1 2 3", "again"])
        XCTAssertEqual(parsed.serialized, text)
    }

    func testAllSessionLineTypesAreParsedAndWrittenInRFCOrder() throws {
        let text = SDPFixtures.crlf(
            """
            v=0
            o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
            s=Call to John Smith
            i=SDP Offer #1
            u=http://www.jdoe.example.com/home.html
            e=Jane Doe <jane@jdoe.example.com>
            p=+1 617 555-6011
            c=IN IP4 198.51.100.1
            b=CT:128
            t=0 0
            t=3034423619 3042462419
            r=604800 3600 0 90000
            z=2882844526 -1h 2898848070 0
            k=prompt
            a=recvonly
            m=audio 49170 RTP/AVP 0
            i=voice
            c=IN IP6 2001:db8::2
            b=AS:64
            k=clear:secret
            m=video 51372/2 RTP/AVP 99
            c=IN IP4 233.252.0.1/127/2
            a=rtpmap:99 h263-1998/90000
            """)
        let parsed = try SessionDescription(parsing: text)
        XCTAssertEqual(parsed.origin.username, "jdoe")
        XCTAssertEqual(parsed.origin.sessionID, "3724394400")
        XCTAssertEqual(parsed.origin.sessionVersion, 3_724_394_405)
        XCTAssertEqual(parsed.sessionName, "Call to John Smith")
        XCTAssertEqual(parsed.information, "SDP Offer #1")
        XCTAssertEqual(parsed.emails, ["Jane Doe <jane@jdoe.example.com>"])
        XCTAssertEqual(parsed.phones, ["+1 617 555-6011"])
        XCTAssertEqual(parsed.bandwidths, [SDPBandwidth(type: "CT", value: 128)])
        XCTAssertEqual(parsed.timings.count, 2)
        XCTAssertEqual(parsed.timings[1].repeats, ["604800 3600 0 90000"])
        XCTAssertEqual(parsed.timeZones, "2882844526 -1h 2898848070 0")
        XCTAssertEqual(parsed.encryptionKey, "prompt")
        XCTAssertEqual(parsed.direction, .recvonly)
        XCTAssertEqual(parsed.media[0].connections, [SDPConnection(networkType: "IN", addressType: "IP6", address: "2001:db8::2")])
        XCTAssertEqual(parsed.media[0].information, "voice")
        XCTAssertEqual(parsed.media[0].encryptionKey, "clear:secret")
        XCTAssertEqual(parsed.media[1].port, 51372)
        XCTAssertEqual(parsed.media[1].portCount, 2)
        XCTAssertEqual(parsed.media[1].connections.first?.address, "233.252.0.1/127/2")
        XCTAssertEqual(parsed.serialized, text)
    }

    func testLineFeedOnlyInputIsAcceptedAndWrittenWithCRLF() throws {
        let text = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\n"
        let parsed = try SessionDescription(parsing: text)
        XCTAssertEqual(parsed.serialized, text.split(separator: "\n").joined(separator: "\r\n") + "\r\n")
    }

    func testSessionLinesOutOfOrderAreAcceptedAndWrittenInOrder() throws {
        let parsed = try SessionDescription(
            parsing: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\na=tool:x\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n")
        XCTAssertEqual(parsed.serialized, "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=tool:x\r\n")
    }

    func testByteBufferInputAndOutputMatchTheText() throws {
        let buffer = ByteBuffer(string: SDPFixtures.asteriskOffer)
        let parsed = try SessionDescription(parsing: buffer)
        var out = ByteBuffer()
        parsed.write(to: &out)
        XCTAssertEqual(out, buffer)
    }

    func testMalformedLinesAreReportedWithTheirLineNumber() {
        let cases: [(String, Int?, String)] = [
            ("", nil, "empty"),
            ("o=- 1 1 IN IP4 192.0.2.1\r\n", 1, "start with 'v='"),
            ("v=1\r\n", 1, "version"),
            ("v=0\r\no=- 1 1 IN IP4\r\n", 2, "6 fields"),
            ("v=0\r\no=- abc 1 IN IP4 192.0.2.1\r\n", 2, "not numeric"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=now 0\r\n", 4, "'t='"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio\r\n", 5, "'m='"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\n", 5, "port"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4\r\n", 6, "'c='"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nb=AS\r\n", 4, "'b='"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nx=what\r\n", 5, "unknown line type"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nt=0 0\r\n", 6, "session-level"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\na=\r\n", 5, "attribute name"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nr=1 2 3\r\n", 4, "'r='"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nno equals sign\r\n", 5, "type=value"),
            ("v=0\r\ns=-\r\nt=0 0\r\n", 3, "missing 'o='"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\n", 3, "missing 's='"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\no=- 1 1 IN IP4 192.0.2.1\r\n", 3, "duplicate"),
        ]
        for (text, line, fragment) in cases {
            XCTAssertThrowsError(try SessionDescription(parsing: text), text) { error in
                guard let error = error as? SDPParseError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.line, line, "\(text): \(error)")
                XCTAssertTrue(error.reason.contains(fragment), "\(error.reason) lacks \(fragment)")
            }
        }
    }

    func testErrorDescriptionNamesTheLine() {
        XCTAssertEqual(SDPParseError(line: 4, "bad").description, "SDP line 4: bad")
    }

    func testBuiltDescriptionSerializesWithDefaultTiming() {
        var description = SessionDescription(
            origin: SDPOrigin(sessionID: 42, sessionVersion: 1, address: "2001:db8::1"),
            connection: SDPConnection(address: "2001:db8::1"))
        description.media = [MediaDescription(media: "audio", port: 5004, proto: "RTP/AVP", formats: ["0"])]
        description.media[0].attributes.append(MediaDirection.sendonly.attribute)
        XCTAssertEqual(
            description.serialized,
            "v=0\r\no=- 42 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\na=sendonly\r\n")
    }
}
