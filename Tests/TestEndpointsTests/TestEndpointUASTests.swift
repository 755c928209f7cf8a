// The test endpoints' SIP core in memory: each number's answer, the dialog's requests, and bad
// input, with a fake clock.

import NIOCore
import SDP
import SIP
import TestEndpoints
import XCTest

final class TestEndpointUASTests: XCTestCase {
    typealias UAS = TestEndpointUAS<String>
    private let caller = "tandem:5060"
    private var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    private var uas = UAS(address: "127.0.0.1", port: 5099, rtpPorts: 30000...30009)

    private static let offer = """
        v=0\r
        o=- 1 1 IN IP4 127.0.0.1\r
        s=-\r
        c=IN IP4 127.0.0.1\r
        t=0 0\r
        m=audio 40000 RTP/AVP 0 8 101\r
        a=rtpmap:0 PCMU/8000\r
        a=rtpmap:8 PCMA/8000\r
        a=rtpmap:101 telephone-event/8000\r
        a=fmtp:101 0-15\r

        """

    private func request(_ method: String, _ user: String = "echo", callID: String = "call-1", cseq: Int = 1, branch: String? = nil,
                         toTag: String? = nil, body: String = "", contentType: String = "application/sdp") -> [UInt8] {
        var text = "\(method) sip:\(user)@127.0.0.1:5099 SIP/2.0\r\n"
        text += "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=\(branch ?? "z9hG4bK-\(method)-\(callID)-\(cseq)")\r\n"
        text += "Max-Forwards: 70\r\nFrom: <sip:1001@tandem>;tag=caller\r\n"
        text += "To: <sip:\(user)@127.0.0.1>\(toTag.map { ";tag=\($0)" } ?? "")\r\n"
        text += "Call-ID: \(callID)\r\nCSeq: \(cseq) \(method)\r\n"
        text += "Contact: <sip:tandem@127.0.0.1:5060>\r\n"
        if !body.isEmpty { text += "Content-Type: \(contentType)\r\n" }
        text += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        return Array(text.utf8)
    }

    private func responses(_ actions: [UAS.Action]) -> [SIPResponse] {
        actions.compactMap {
            guard case .send(let bytes, let to) = $0, to == caller, case .response(let response)? = try? SIPParser.parse(bytes) else { return nil }
            return response
        }
    }

    private func requests(_ actions: [UAS.Action]) -> [SIPRequest] {
        actions.compactMap {
            guard case .send(let bytes, _) = $0, case .request(let request)? = try? SIPParser.parse(bytes) else { return nil }
            return request
        }
    }

    private func starts(_ actions: [UAS.Action]) -> [UAS.MediaStart] {
        actions.compactMap { if case .startMedia(let start) = $0 { return start } else { return nil } }
    }

    private func receive(_ bytes: [UInt8]) -> [UAS.Action] { uas.receive(bytes, from: caller, now: now) }

    /// Answers `number` and returns the 200.
    private func answer(_ number: String, callID: String = "call-1") throws -> (ok: SIPResponse, start: UAS.MediaStart) {
        let actions = receive(request("INVITE", number, callID: callID, body: Self.offer))
        XCTAssertEqual(responses(actions).map(\.statusCode), [100, 180, 200])
        let ok = try XCTUnwrap(responses(actions).last)
        return (ok, try XCTUnwrap(starts(actions).first))
    }

    func testEchoAnswersPCMUWithTelephoneEventOnAPortOfItsRange() throws {
        let (ok, start) = try answer("echo")
        XCTAssertEqual(ok.headers["Content-Type"], "application/sdp")
        XCTAssertNotNil(try ok.headers.to().tag)
        XCTAssertEqual(try SIPNameAddress(parsing: ok.headers["Contact"] ?? "").uri.port, 5099)
        let sdp = try SessionDescription(parsing: String(decoding: ok.body, as: UTF8.self))
        let audio = try XCTUnwrap(sdp.media.first)
        XCTAssertEqual(audio.formats, ["0", "101"])
        XCTAssertEqual(audio.proto, "RTP/AVP")
        XCTAssertEqual(sdp.connection?.address, "127.0.0.1")
        XCTAssertTrue((30000...30009).contains(audio.port) && audio.port % 2 == 0, "\(audio.port)")
        XCTAssertEqual(start, UAS.MediaStart(callID: "call-1", kind: .echo, localPort: audio.port, remoteAddress: "127.0.0.1",
                                             remotePort: 40000, telephoneEventPayloadType: 101))
        XCTAssertEqual(uas.answeredCalls, 1)
    }

    func testTheOKIsResentUntilTheACKAndTheByeEndsTheCall() throws {
        let (ok, start) = try answer("tone")
        XCTAssertEqual(start.kind, .tone)
        // No ACK yet: the 200 goes again after T1.
        now = now + .milliseconds(600)
        XCTAssertEqual(responses(uas.timeout(now: now)).map(\.statusCode), [200])
        let tag = try XCTUnwrap(try ok.headers.to().tag)
        XCTAssertTrue(receive(request("ACK", "tone", toTag: tag, body: "")).isEmpty)
        now = now + .seconds(2)
        XCTAssertTrue(responses(uas.timeout(now: now)).isEmpty, "acknowledged: no more 200s")

        let bye = receive(request("BYE", "tone", cseq: 2, toTag: tag))
        XCTAssertEqual(responses(bye).map(\.statusCode), [200])
        XCTAssertTrue(bye.contains(.stopMedia(callID: "call-1")))
        XCTAssertEqual(uas.activeCalls, 0)
        XCTAssertEqual(responses(receive(request("BYE", "tone", cseq: 3, toTag: tag))).map(\.statusCode), [481])
    }

    func testBusyRejectsWith486() {
        let actions = receive(request("INVITE", "busy", body: Self.offer))
        XCTAssertEqual(responses(actions).map(\.statusCode), [100, 486])
        XCTAssertTrue(starts(actions).isEmpty)
        XCTAssertEqual(uas.activeCalls, 0)
    }

    func testNoAnswerRingsUntilCancelThenAnswers487() throws {
        let invite = receive(request("INVITE", "noanswer", body: Self.offer))
        XCTAssertEqual(responses(invite).map(\.statusCode), [100, 180])
        let ringing = try XCTUnwrap(responses(invite).last)
        XCTAssertNotNil(try ringing.headers.to().tag)
        // A minute later it still rings, answering nothing.
        now = now + .seconds(60)
        XCTAssertTrue(responses(uas.timeout(now: now)).isEmpty)
        XCTAssertEqual(uas.activeCalls, 1)
        let cancel = receive(request("CANCEL", "noanswer", branch: "z9hG4bK-INVITE-call-1-1"))
        XCTAssertEqual(responses(cancel).map { "\($0.statusCode) \((try? $0.headers.cseq().method.rawValue) ?? "")" }, ["200 CANCEL", "487 INVITE"])
        XCTAssertEqual(try responses(cancel).last?.headers.to().tag, try ringing.headers.to().tag)
        XCTAssertEqual(uas.activeCalls, 0)
        // A CANCEL for nothing is 481.
        XCTAssertEqual(responses(receive(request("CANCEL", "noanswer", callID: "other", branch: "z9hG4bK-none"))).map(\.statusCode), [481])
    }

    func testUnknownNumbersOffersWithoutPCMUAndNoFreePortAreRefused() throws {
        XCTAssertEqual(responses(receive(request("INVITE", "2000", callID: "a", body: Self.offer))).map(\.statusCode), [100, 404])
        let pcma = Self.offer.replacingOccurrences(of: "RTP/AVP 0 8 101", with: "RTP/AVP 8 101")
        let refused = responses(receive(request("INVITE", "echo", callID: "b", body: pcma)))
        XCTAssertEqual(refused.map(\.statusCode), [100, 488])
        XCTAssertNotNil(refused.last?.headers["Warning"])
        XCTAssertEqual(responses(receive(request("INVITE", "echo", callID: "c"))).map(\.statusCode), [100, 488], "no offer")
        // Ten ports hold five calls.
        for index in 0..<5 { _ = try answer("echo", callID: "full-\(index)") }
        XCTAssertEqual(responses(receive(request("INVITE", "echo", callID: "d", body: Self.offer))).map(\.statusCode), [100, 503])
    }

    func testOptionsIsAnsweredAndOtherMethodsGet405() {
        let ok = responses(receive(request("OPTIONS", "echo")))
        XCTAssertEqual(ok.map(\.statusCode), [200])
        XCTAssertTrue(ok.first?.headers["Allow"]?.contains("INVITE") ?? false)
        XCTAssertEqual(responses(receive(request("MESSAGE", "echo"))).map(\.statusCode), [405])
    }

    func testInfoDigitsGoToTheDtmfCall() throws {
        let (ok, _) = try answer("dtmf")
        let tag = try XCTUnwrap(try ok.headers.to().tag)
        let info = receive(request("INFO", "dtmf", cseq: 2, toTag: tag, body: "Signal=5\r\nDuration=160\r\n", contentType: "application/dtmf-relay"))
        XCTAssertEqual(responses(info).map(\.statusCode), [200])
        XCTAssertTrue(info.contains(.digit(callID: "call-1", "5")), "\(info)")
        let bad = receive(request("INFO", "dtmf", cseq: 3, toTag: tag, body: "Signal=55\r\n", contentType: "application/dtmf-relay"))
        XCTAssertEqual(responses(bad).map(\.statusCode), [200])
        XCTAssertFalse(bad.contains { if case .digit = $0 { return true } else { return false } })
    }

    func testHangUpSendsABYEInTheDialog() throws {
        let (ok, _) = try answer("echo")
        _ = receive(request("ACK", "echo", toTag: try ok.headers.to().tag))
        let actions = uas.hangUp(callID: "call-1", now: now)
        XCTAssertTrue(actions.contains(.stopMedia(callID: "call-1")))
        let bye = try XCTUnwrap(requests(actions).first)
        XCTAssertEqual(bye.method, .bye)
        XCTAssertEqual(bye.uri.description, "sip:tandem@127.0.0.1:5060")
        XCTAssertEqual(try bye.headers.callID(), "call-1")
        XCTAssertEqual(try bye.headers.to().tag, "caller")
        XCTAssertEqual(uas.activeCalls, 0)
    }

    func testMalformedInputIsDroppedOrRefusedAndChangesNothing() throws {
        uas = UAS(address: "127.0.0.1", port: 5099, rtpPorts: 30000...39999)  // damaged INVITEs may still be calls
        XCTAssertTrue(receive(Array("hello".utf8)).isEmpty)
        XCTAssertTrue(receive([]).isEmpty)
        // A request with a Via but no From/To/Call-ID: 400.
        let broken = Array("INVITE sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKbroken\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n".utf8)
        XCTAssertEqual(responses(receive(broken)).last?.statusCode, 400)
        // Random bytes, and random damage to a good INVITE.
        var generator = SystemRandomNumberGenerator()
        let good = request("INVITE", "echo", callID: "fuzz", body: Self.offer)
        for round in 0..<2000 {
            var bytes = good
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                for _ in 0..<4 { bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            }
            _ = uas.receive(bytes, from: "fuzzer", now: now)
        }
        // Still answers a good call.
        _ = try answer("echo", callID: "after-fuzz")
    }
}
