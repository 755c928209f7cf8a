// Calls from a browser (aiortc, its SIP over WebSocket) through tandemd to its built-in test
// endpoints, reached through an ordinary trunk and the dial plan as in the default configuration:
// echo sends the browser's own tone back (Opus -> PCMU -> Opus), tone plays 1 kHz, dtmf plays back
// the digits it is sent, busy refuses with 486, noanswer rings until the browser cancels.

import Foundation
import NIOCore
import NIOPosix
import SIP
import TandemTestPeers
import TandemTestSupport
import XCTest

final class TestEndpointCallTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var daemon: DaemonUnderTest!
    private var wsPort = 0
    private var endpointPort = 0

    override func setUp() async throws {
        try InteropPeer.require("aiortc_peer.py")
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        endpointPort = LoopbackUDPSocket.freePort()
        daemon = try DaemonUnderTest(extraConfig: DaemonUnderTest.testEndpointsAndUser(
            port: endpointPort, rtpPorts: 23000...23099, optionsInterval: 1, rules: [
                "{name: test-echo, match: '^(echo|9196)$', trunk: test, rewrite: echo}",
                "{name: test-numbers, match: '^(tone|dtmf|busy|noanswer)$', trunk: test}",
            ]))
        wsPort = try daemon.startReady()
    }

    override func tearDown() async throws {
        daemon?.send(SIGTERM)
        XCTAssertEqual(daemon?.waitForExit(timeout: 15), 0, daemon?.stderr.suffix(3000).description ?? "")
        try? await group?.shutdownGracefully()
    }

    /// aiortc sends a 660 Hz tone to `number` and listens for `duration` seconds; the browser hangs up after.
    private func mediaCall(_ number: String, duration: Double, during: ((BrowserSIPUser, BrowserSIPUser.Call) async throws -> Void)? = nil)
        async throws -> [String: Any] {
        let peer = try InteropPeer(script: "aiortc_peer.py", arguments: [
            "--codecs", "opus", "--frequency", "660", "--duration", String(duration), "--timeout", "25",
        ], log: daemon.directory + "/aiortc.log")
        let offer = try XCTUnwrap(try peer.next()["sdp"] as? String)
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        let call = try await browser.call(number, offer: offer)
        try peer.send(["type": "answer", "sdp": String(decoding: call.answer.body, as: UTF8.self)])
        try await during?(browser, call)
        let result = try peer.next()
        XCTAssertEqual(result["connected"] as? Bool, true, "\(result)\n\(daemon.stderr.suffix(2000))")
        XCTAssertEqual(result["codec"] as? String, "audio/opus/48000")
        let status = try daemon.status()
        XCTAssertEqual(status.media?["transcoded_calls"], 1, "Opus toward the browser, PCMU toward the endpoint")
        // The browser hangs up (or Tandem already ended the call when aiortc closed).
        let bye = try await browser.hangUp(call)
        XCTAssertTrue([200, 481].contains(bye.statusCode), "\(bye.statusCode)")
        await browser.close()
        try await waitUntil("the endpoint's call ends") { self.daemon.stderr.contains("test call ended") }
        return result
    }

    private func waitUntil(_ what: String, timeout: TimeInterval = 10, _ condition: @escaping () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else {
                XCTFail("timed out waiting until \(what)\n\(daemon.stderr.suffix(3000))")
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    private func heard(_ result: [String: Any]) -> Double { result["dominantFrequency"] as? Double ?? 0 }

    func testEchoByItsNumericAliasSendsTheBrowsersToneBackTranscoded() async throws {
        let result = try await mediaCall("9196", duration: 4)
        XCTAssertEqual(heard(result), 660, accuracy: 15, "\(result)")
        XCTAssertGreaterThan(result["packetsReceived"] as? Int ?? 0, 150, "\(result)")
        XCTAssertTrue(daemon.stderr.contains("number=echo"), "the dial plan rewrote 9196 to echo")
        // The trunk is listed, and up: the endpoint answers OPTIONS.
        let trunks = try daemon.ctl(["trunks", "--json"])
        XCTAssertEqual(trunks.status, 0, trunks.stderr)
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(trunks.stdout.utf8)) as? [[String: Any]])
        let test = try XCTUnwrap(list.first { $0["name"] as? String == "test" }, trunks.stdout)
        XCTAssertEqual(test["availability"] as? String, "up", "\(test)")
    }

    func testToneIsHeardAt1kHz() async throws {
        let result = try await mediaCall("tone", duration: 1.5)
        XCTAssertEqual(heard(result), 1000, accuracy: 15, "\(result)")
        XCTAssertGreaterThan(result["rms"] as? Double ?? 0, 0.05, "\(result)")
    }

    func testDtmfPlaysBackTheDigitsItReceives() async throws {
        let result = try await mediaCall("dtmf", duration: 3) { browser, call in
            try await Task.sleep(for: .milliseconds(800))
            for _ in 0..<3 {
                let ok = try await browser.info(call, body: "Signal=1\r\nDuration=200\r\n", contentType: "application/dtmf-relay")
                XCTAssertEqual(ok.statusCode, 200)
                try await Task.sleep(for: .milliseconds(400))
            }
        }
        // Tandem turned the INFOs into RFC 4733 events toward the trunk; the endpoint heard them
        // and played each back as DTMF 1 (697 Hz + 1209 Hz), which is all the browser hears.
        let digits = daemon.stderr.components(separatedBy: "\n").filter { $0.contains("dtmf endpoint heard a digit") }
        XCTAssertEqual(digits.count, 3, digits.joined(separator: "\n"))
        XCTAssertTrue(digits.allSatisfy { $0.contains("digit=1") }, digits.joined(separator: "\n"))
        let frequency = heard(result)
        XCTAssertTrue(abs(frequency - 697) < 15 || abs(frequency - 1209) < 15, "aiortc heard \(frequency) Hz: \(result)")
        XCTAssertTrue(daemon.stderr.contains("digits=111"), daemon.stderr.suffix(2000).description)
    }

    /// An offer from a real WebRTC stack, for calls that never get media.
    private func browserOffer() throws -> (InteropPeer, String) {
        let peer = try InteropPeer(script: "aiortc_peer.py", arguments: ["--codecs", "opus", "--timeout", "5"], log: daemon.directory + "/aiortc.log")
        return (peer, try XCTUnwrap(try peer.next()["sdp"] as? String))
    }

    func testBusyIsRefusedWith486() async throws {
        let (peer, offer) = try browserOffer()
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        do {
            _ = try await browser.call("busy", offer: offer)
            XCTFail("the busy number answered")
        } catch let failure as CallFailure {
            XCTAssertTrue(failure.description.hasPrefix("INVITE: 486"), failure.description)
        }
        await browser.close()
        peer.process.terminate()
        XCTAssertEqual(try daemon.status().activeCalls, 0)
    }

    func testNoAnswerRingsUntilTheBrowserCancels() async throws {
        let (peer, offer) = try browserOffer()
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        let started = Date()
        let outcome = try await browser.callAndCancelWhenRinging("noanswer", offer: offer)
        XCTAssertEqual(outcome.provisional.last, 180)
        XCTAssertEqual(outcome.cancel.statusCode, 200)
        XCTAssertEqual(outcome.final.statusCode, 487)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        await browser.close()
        peer.process.terminate()
        try await waitUntil("no call is left") { (try? self.daemon.status().activeCalls) == 0 }
    }

    func testGarbageToTheEndpointChangesNothing() async throws {
        let socket = LoopbackUDPSocket(receiveTimeout: 1)
        for size in [0, 1, 20, 400, 1400] {
            socket.send((0..<size).map { _ in UInt8.random(in: 0...255) }, toPort: endpointPort)
        }
        socket.send(Array("OPTIONS sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(socket.port);branch=z9hG4bKgarbage\r\nContent-Length: 0\r\n\r\n".utf8), toPort: endpointPort)
        let reply = String(decoding: socket.receive() ?? [], as: UTF8.self)
        XCTAssertTrue(reply.hasPrefix("SIP/2.0 400"), reply)
        // A well-formed call still works.
        let (peer, offer) = try browserOffer()
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        do {
            _ = try await browser.call("busy", offer: offer)
        } catch let failure as CallFailure {
            XCTAssertTrue(failure.description.hasPrefix("INVITE: 486"), failure.description)
        }
        await browser.close()
        peer.process.terminate()
    }
}
