import SIP
import XCTest

final class SIPParserTests: XCTestCase {
    private func bytes(_ lines: [String], body: String = "") -> [UInt8] {
        Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
    }

    private func request(_ data: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> SIPRequest {
        guard case .request(let request) = try SIPParser.parse(data) else {
            XCTFail("parsed as a response", file: file, line: line)
            throw SIPParseError(.startLine, "not a request")
        }
        return request
    }

    func testBrowserInviteOverWebSocket() throws {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
        let invite = try request(bytes([
            "INVITE sip:2000@127.0.0.1 SIP/2.0",
            "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKnashds7;rport",
            "Max-Forwards: 70",
            "To: <sip:2000@127.0.0.1>",
            "From: \"Alice \\\"A\\\"\" <sip:1001@tandem>;tag=456248",
            "Call-ID: 843817637684230@998sdasdh09",
            "CSeq: 1826 INVITE",
            "Contact: <sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws;ob>",
            "Content-Type: application/sdp",
            "Content-Length: \(sdp.utf8.count)",
        ], body: sdp))
        XCTAssertEqual(invite.method, .invite)
        XCTAssertEqual(invite.uri.user, "2000")
        XCTAssertEqual(invite.uri.host, "127.0.0.1")
        let via = try invite.headers.topVia()
        XCTAssertEqual(via.transport, "WS")
        XCTAssertEqual(via.host, "df7jal23ls0d.invalid")
        XCTAssertEqual(via.branch, "z9hG4bKnashds7")
        XCTAssertTrue(via.parameters.contains("rport"))
        let from = try invite.headers.from()
        XCTAssertEqual(from.displayName, "Alice \"A\"")
        XCTAssertEqual(from.tag, "456248")
        XCTAssertEqual(try invite.headers.cseq(), SIPCSeq(number: 1826, method: .invite))
        XCTAssertEqual(try invite.headers.maxForwards(), 70)
        let contact = try SIPNameAddress(parsing: try XCTUnwrap(invite.headers["m"]))
        XCTAssertEqual(contact.uri.transport, "ws")
        XCTAssertTrue(contact.uri.parameters.contains("ob"))
        XCTAssertEqual(String(decoding: invite.body, as: UTF8.self), sdp)
        XCTAssertNoThrow(try invite.validate())
    }

    func testCompactFormsFoldingAndListHeaders() throws {
        let message = try request(bytes([
            "OPTIONS sip:tandem@[2001:db8::10]:5060 SIP/2.0",
            "v: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bK1, SIP/2.0/TCP",
            "   proxy.example.net;branch=z9hG4bK2",
            "Via  :  SIP / 2.0 / UDP p2.example.net:5062;branch=z9hG4bK3",
            "i: abc",
            "f: sip:a@example.net;tag=1",
            "t: sip:tandem@example.net",
            "CSEQ: 7 OPTIONS",
            "l: 0",
        ]))
        XCTAssertEqual(message.uri.host, "[2001:db8::10]")
        XCTAssertEqual(message.uri.hostWithoutBrackets, "2001:db8::10")
        XCTAssertEqual(message.uri.port, 5060)
        let vias = try message.headers.list("Via").map { try SIPVia(parsing: $0) }
        XCTAssertEqual(vias.map(\.host), ["[2001:db8::9]", "proxy.example.net", "p2.example.net"])
        XCTAssertEqual(vias.map(\.port), [5070, nil, 5062])
        XCTAssertEqual(vias.map(\.transport), ["UDP", "TCP", "UDP"])
        XCTAssertEqual(try message.headers.callID(), "abc")
        XCTAssertEqual(try message.headers.from().uri.user, "a")
        XCTAssertEqual(try message.headers.from().tag, "1", "addr-spec parameters belong to the header")
        XCTAssertNoThrow(try message.validate())
    }

    func testResponses() throws {
        guard case .response(let ok) = try SIPParser.parse(bytes(["SIP/2.0 200 OK", "Content-Length: 0"])) else {
            return XCTFail("not a response")
        }
        XCTAssertEqual(ok.statusCode, 200)
        XCTAssertEqual(ok.reason, "OK")
        guard case .response(let empty) = try SIPParser.parse(bytes(["SIP/2.0 100 ", "l: 0"])) else { return XCTFail() }
        XCTAssertEqual(empty.reason, "", "an empty reason phrase is allowed")
        guard case .response(let spaces) = try SIPParser.parse(bytes(["SIP/2.0 486 Busy  Here now"])) else { return XCTFail() }
        XCTAssertEqual(spaces.reason, "Busy  Here now")
    }

    func testDatagramBytesPastContentLengthAreDropped() throws {
        let message = try request(bytes(["MESSAGE sip:a@b SIP/2.0", "Content-Length: 5"], body: "helloEXTRA"))
        XCTAssertEqual(message.body, Array("hello".utf8))
    }

    func testMalformedMessagesAreRejectedWithAReason() {
        let cases: [(String, [UInt8], SIPParseError.Kind)] = [
            ("content length larger than body", bytes(["MESSAGE sip:a@b SIP/2.0", "Content-Length: 50"], body: "short"), .contentLength),
            ("negative content length", bytes(["MESSAGE sip:a@b SIP/2.0", "Content-Length: -1"]), .contentLength),
            ("conflicting content lengths", bytes(["MESSAGE sip:a@b SIP/2.0", "Content-Length: 0", "l: 1"], body: "x"), .contentLength),
            ("no empty line", Array("OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n".utf8), .incomplete),
            ("header without colon", bytes(["OPTIONS sip:a@b SIP/2.0", "Via SIP/2.0/UDP x"]), .headerLine),
            ("space in header name", bytes(["OPTIONS sip:a@b SIP/2.0", "Call ID: x"]), .headerLine),
            ("extra space in request line", bytes(["OPTIONS  sip:a@b SIP/2.0"]), .startLine),
            ("angle brackets in Request-URI", bytes(["OPTIONS <sip:a@b> SIP/2.0"]), .startLine),
            ("bad version", bytes(["OPTIONS sip:a@b SIP/x"]), .startLine),
            ("status code too long", bytes(["SIP/2.0 4294967301 big"]), .startLine),
            ("status code out of range", bytes(["SIP/2.0 099 low"]), .startLine),
            ("garbage", Array("\u{1}\u{2}\r\n\r\n".utf8), .startLine),
            ("empty", [], .incomplete),
        ]
        for (name, data, kind) in cases {
            XCTAssertThrowsError(try SIPParser.parse(data), name) { error in
                XCTAssertEqual((error as? SIPParseError)?.kind, kind, "\(name): \(error)")
            }
        }
    }

    func testValidationFindsSemanticProblems() throws {
        let base = [
            "INVITE sip:a@b SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Max-Forwards: 70", "To: <sip:a@b>",
            "From: <sip:c@d>;tag=1", "Call-ID: x", "CSeq: 1 INVITE",
        ]
        XCTAssertNoThrow(try request(bytes(base)).validate())
        func problem(_ replace: String, with replacement: String?) throws -> String {
            var lines = base
            let index = lines.firstIndex { $0.hasPrefix(replace) }!
            if let replacement { lines[index] = replacement } else { lines.remove(at: index) }
            do {
                try request(bytes(lines)).validate()
                return "valid"
            } catch {
                return (error as? SIPParseError)?.reason ?? "\(error)"
            }
        }
        XCTAssertEqual(try problem("CSeq", with: "CSeq: 1 ACK"), "CSeq method ACK does not match INVITE")
        XCTAssertEqual(try problem("CSeq", with: "CSeq: 4294967296 INVITE"), "bad CSeq '4294967296 INVITE'")
        XCTAssertEqual(try problem("Call-ID", with: nil), "missing Call-ID")
        XCTAssertEqual(try problem("Via", with: nil), "missing Via")
        XCTAssertEqual(try problem("Max-Forwards", with: "Max-Forwards: 300"), "bad Max-Forwards '300'")
        XCTAssertEqual(try problem("From", with: "From: Bob <sip:c@d;tag=1"), "missing '>'")
        XCTAssertEqual(try problem("From", with: "From: Bob@home <sip:c@d>;tag=1"), "display name 'Bob@home' must be quoted")
        XCTAssertEqual(try problem("To", with: "To: \"unterminated <sip:a@b>"), "unterminated quoted string")
    }

    func testSerializeThenParseGivesTheSameMessage() throws {
        var headers = SIPHeaders()
        headers.add("Via", SIPVia(transport: "UDP", host: "192.0.2.1", port: 5060, branch: "z9hG4bKabc").description)
        headers.add("From", SIPNameAddress(displayName: "A \"quoted\" name", uri: try SIPURI(parsing: "sip:alice@example.com"),
                                           parameters: try parametersWithTag("x1")).description)
        headers.add("To", "<sip:bob@example.com>")
        headers.add("Call-ID", "id-1@example.com")
        headers.add("CSeq", SIPCSeq(number: 42, method: .invite).description)
        headers.add("Max-Forwards", "70")
        let original = SIPRequest(method: .invite, uri: try SIPURI(parsing: "sips:bob@[2001:db8::1]:5061;transport=tls?subject=hi"),
                                  headers: headers, body: Array("body bytes".utf8))
        let parsed = try SIPParser.parse(original.serialized())
        var expected = original
        expected.headers.add("Content-Length", "10")
        XCTAssertEqual(parsed, .request(expected))
        XCTAssertEqual(try request(original.serialized()).headers.from().displayName, "A \"quoted\" name")
    }

    private func parametersWithTag(_ tag: String) throws -> SIPParameters {
        var parameters = SIPParameters()
        parameters.set("tag", tag)
        return parameters
    }

    func testHeaderEditing() throws {
        var headers = SIPHeaders([("Via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2"), ("Route", "<sip:p1;lr>")])
        try headers.removeFirstElement("Via")
        XCTAssertEqual(headers.values("Via"), ["SIP/2.0/UDP b;branch=z9hG4bK2"])
        headers.prepend("v", "SIP/2.0/TCP c;branch=z9hG4bK3")
        XCTAssertEqual(try headers.list("via").count, 2)
        XCTAssertEqual(headers.fields.first?.name, "Via")
        headers.set("route", "<sip:p2;lr>")
        XCTAssertEqual(headers.values("Route"), ["<sip:p2;lr>"])
        XCTAssertEqual(SIPHeaders.canonicalName("www-authenticate"), "WWW-Authenticate")
        XCTAssertEqual(SIPHeaders.canonicalName("RECORD-route"), "Record-Route")
        XCTAssertEqual(SIPHeaders.canonicalName("x"), "Session-Expires")
    }

    func testURIs() throws {
        let semicolonUser = try SIPURI(parsing: "sip:user;par=u%40example.net@example.com")
        XCTAssertEqual(semicolonUser.user, "user;par=u%40example.net")
        XCTAssertEqual(semicolonUser.host, "example.com")
        let tel = try SIPURI(parsing: "tel:+1-201-555-0123")
        XCTAssertEqual(tel.scheme, "tel")
        XCTAssertEqual(tel.description, "tel:+1-201-555-0123")
        XCTAssertThrowsError(try SIPURI(parsing: "sip:a@b:99999"))
        XCTAssertThrowsError(try SIPURI(parsing: "sip:a@[2001:db8::1"))
        XCTAssertThrowsError(try SIPURI(parsing: "sip:a%4@b"))
        XCTAssertThrowsError(try SIPURI(parsing: "sip:a b@c"))
        XCTAssertTrue(try SIPURI(parsing: "sip:A@Example.COM;transport=TCP").isEquivalent(to: try SIPURI(parsing: "sip:A@example.com;transport=tcp")))
        XCTAssertFalse(try SIPURI(parsing: "sip:a@example.com").isEquivalent(to: try SIPURI(parsing: "sip:a@example.com;transport=tcp")))
        XCTAssertFalse(try SIPURI(parsing: "sip:a@example.com").isEquivalent(to: try SIPURI(parsing: "sip:a@example.com:5060")))
    }
}
