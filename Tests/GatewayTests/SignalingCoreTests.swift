import Foundation
import Gateway
import TandemConfig
import NIOCore
import SIP
import XCTest

final class SignalingCoreTests: XCTestCase {
    private var core = SignalingCore<String>(userAgent: "Tandem-test", web: WebSettings(realm: "tandem"), users: [WebUser(username: "1001", password: "secret-1001")])
    private let now = NIODeadline.uptimeNanoseconds(5_000_000_000)

    private func message(_ startLine: String, _ headers: [String] = [], via: String = "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK776;rport") -> [UInt8] {
        let method = startLine.split(separator: " ").first.map(String.init) ?? "OPTIONS"
        var lines = [startLine, "Via: \(via)", "Max-Forwards: 70", "From: <sip:probe@example.net>;tag=p1", "To: <sip:tandem@127.0.0.1>",
                     "Call-ID: c1@example.net", "CSeq: 1 \(method)"]
        for header in headers {
            let name = header.split(separator: ":")[0]
            if let index = lines.firstIndex(where: { $0.hasPrefix(name + ":") }) { lines[index] = header } else { lines.append(header) }
        }
        return Array((lines.joined(separator: "\r\n") + "\r\nContent-Length: 0\r\n\r\n").utf8)
    }

    private func send(_ bytes: [UInt8]) -> [SIPResponse] {
        let inbound = InboundSIP(bytes: bytes, replyTo: "peer", sourceHost: "192.0.2.50", sourcePort: 40000, transport: .udp, connection: nil)
        return core.receive(inbound, now: now).compactMap { effect in
            guard case .send(let bytes, "peer") = effect, case .response(let response)? = try? SIPParser.parse(bytes) else { return nil }
            return response
        }
    }

    func testOptionsIsAnsweredWithCapabilities() throws {
        let responses = send(message("OPTIONS sip:tandem@127.0.0.1 SIP/2.0"))
        XCTAssertEqual(responses.map(\.statusCode), [200])
        let ok = responses[0]
        XCTAssertNotNil(try ok.headers.to().tag)
        XCTAssertEqual(ok.headers["Accept"], "application/sdp")
        XCTAssertTrue(ok.headers["Allow"]!.contains("OPTIONS"))
        XCTAssertEqual(ok.headers["Server"], "Tandem-test")
        let via = try ok.headers.topVia()
        XCTAssertEqual(via.parameters["received"], "192.0.2.50", "§18.2.1")
        XCTAssertEqual(via.parameters["rport"], "40000", "RFC 3581")
    }

    func testRetransmissionGetsTheSameResponse() throws {
        let first = send(message("OPTIONS sip:tandem@127.0.0.1 SIP/2.0"))
        let again = send(message("OPTIONS sip:tandem@127.0.0.1 SIP/2.0"))
        XCTAssertEqual(again.count, 1)
        XCTAssertEqual(try again[0].headers.to().tag, try first[0].headers.to().tag)
        XCTAssertEqual(core.counters.requests, 2)
    }

    func testBadRequestsAreAnsweredWithTheReason() {
        XCTAssertEqual(send(message("OPTIONS sip:t@h SIP/2.0", ["CSeq: 1 INVITE"])).map(\.reason),
                       ["Bad Request (CSeq method INVITE does not match OPTIONS)"])
        XCTAssertEqual(send(message("OPTIONS sip:t@h SIP/3.0", via: "SIP/2.0/UDP h;branch=z9hG4bK2")).map(\.statusCode), [505])
        XCTAssertEqual(send(message("INVITE sip:t@h SIP/2.0", ["Max-Forwards: 0"], via: "SIP/2.0/UDP h;branch=z9hG4bK3")).map(\.statusCode), [483])
        XCTAssertEqual(send(message("OPTIONS mailto:t@h SIP/2.0", via: "SIP/2.0/UDP h;branch=z9hG4bK4")).map(\.statusCode), [416])
        let unsupported = send(message("OPTIONS sip:t@h SIP/2.0", ["Require: foo, 100rel"], via: "SIP/2.0/UDP h;branch=z9hG4bK5"))
        XCTAssertEqual(unsupported.map(\.statusCode), [420])
        XCTAssertEqual(unsupported.first?.headers["Unsupported"], "foo, 100rel")
        XCTAssertEqual(send(message("FROBNICATE sip:t@h SIP/2.0", via: "SIP/2.0/UDP h;branch=z9hG4bK6")).map(\.statusCode), [405])
        XCTAssertEqual(core.counters.badRequests, 5)
    }

    func testCancelOfAnUnknownInviteIs481() {
        XCTAssertEqual(send(message("CANCEL sip:t@h SIP/2.0")).map(\.statusCode), [481])
    }

    func testGarbageIsDroppedAndCounted() {
        XCTAssertEqual(send(Array("\u{0}\u{1}garbage\r\n\r\n".utf8)), [])
        XCTAssertEqual(send(Array("OPTIONS sip:t@h SIP/2.0\r\nCall-ID: x\r\n\r\n".utf8)), [], "no Via: no way to answer")
        XCTAssertEqual(core.counters.unparseable, 1)
        XCTAssertEqual(core.counters.badRequests, 1)
        XCTAssertEqual(send(message("OPTIONS sip:tandem@127.0.0.1 SIP/2.0")).map(\.statusCode), [200], "and nothing else is disturbed")
    }
}

/// RFC 4475 messages through the whole core: a request the RFC calls invalid gets a 400 (or 505)
/// when an answer is possible, or is dropped; a valid one never gets a 400.
final class SignalingCoreTortureTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SIPTests/Torture")

    func testTortureMessagesGetTheRightKindOfAnswer() throws {
        let invalid: Set<String> = [
            "badinv01", "clerr", "ncl", "scalar02", "scalarlg", "quotbal", "ltgtruri", "lwsruri", "lwsstart", "trws",
            "regbadct", "badaspec", "baddn", "bigcode", "mcl01", "escruri", "badvers", "mismatch01", "mismatch02", "insuf",
        ]
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".dat") }
        XCTAssertEqual(files.count, 49)
        for file in files {
            let name = String(file.dropLast(4))
            var core = SignalingCore<String>(userAgent: "t", web: WebSettings(realm: "tandem"), users: [])
            let bytes = Array(try Data(contentsOf: Self.directory.appendingPathComponent(file)))
            let effects = core.receive(InboundSIP(bytes: bytes, replyTo: "peer", sourceHost: "192.0.2.1", sourcePort: 5060, transport: .udp, connection: nil),
                                       now: .uptimeNanoseconds(1_000_000_000))
            let codes = effects.compactMap { effect -> Int? in
                guard case .send(let out, _) = effect, case .response(let response)? = try? SIPParser.parse(out) else { return nil }
                return response.statusCode
            }
            if invalid.contains(name) {
                XCTAssertTrue(codes.allSatisfy { $0 == 400 || $0 == 505 }, "\(name) answered \(codes)")
            } else {
                XCTAssertFalse(codes.contains(400), "\(name) is valid but was answered 400")
            }
        }
    }
}
