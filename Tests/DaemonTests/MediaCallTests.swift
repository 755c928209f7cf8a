// Whole calls through tandemd with real peers on both sides: aiortc (a real WebRTC stack, full ICE,
// DTLS-SRTP) as the browser, its SIP carried over WebSocket by the test as JsSIP would, and sipp
// as the trunk, answering PCMU and echoing RTP (-rtp_echo). What aiortc sends comes back to it
// through Tandem twice: its tone must be heard at the same frequency, with next to no loss.

import Foundation
import NIOCore
import NIOPosix
import SDP
import SIP
import TandemTestPeers
import TandemTestSupport
import XCTest

final class MediaCallTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var daemon: DaemonUnderTest!
    private var sipp: Process?
    private var sippPort = 0
    private var wsPort = 0

    override func setUp() async throws {
        try requirePeer("/usr/bin/sipp", "sipp (Debian sip-tester)")
        try InteropPeer.require("aiortc_peer.py")
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        sippPort = LoopbackUDPSocket.freePort()
        daemon = try DaemonUnderTest(extraConfig: DaemonUnderTest.trunkAndUser(trunkPort: sippPort) + "cdr_file: cdr.jsonl\n")
        try daemon.start()
        XCTAssertNotNil(daemon.notify.waitFor("READY=1"), daemon.stderr)
        wsPort = try XCTUnwrap(try daemon.status().listeners.first { $0.transport == "ws" }?.port)
    }

    override func tearDown() async throws {
        if let sipp, sipp.isRunning { sipp.terminate() }
        daemon?.send(SIGTERM)
        _ = daemon?.waitForExit(timeout: 10)
        try? await group?.shutdownGracefully()
    }

    /// sipp's built-in UAS: answers with PCMU on a port of its own and echoes the RTP it gets.
    private func startSipp(calls: Int = 1) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sipp")
        process.currentDirectoryURL = URL(fileURLWithPath: daemon.directory)
        process.arguments = [
            "-sn", "uas", "-i", "127.0.0.1", "-p", String(sippPort), "-mp", String(LoopbackUDPSocket.freePort()), "-rtp_echo",
            "-m", String(calls), "-nostdin", "-timeout", "90s", "-trace_err", "-error_file", daemon.directory + "/sipp-errors.log",
            "-trace_msg", "-message_file", daemon.directory + "/sipp-messages.log",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        sipp = process
        Thread.sleep(forTimeInterval: 0.3)  // its socket is bound
    }

    private func waitForSipp() -> Int32? {
        guard let sipp else { return nil }
        let deadline = Date().addingTimeInterval(15)
        while sipp.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        return sipp.isRunning ? nil : sipp.terminationStatus
    }

    /// aiortc calls 2000 through Tandem; returns the peer's result after it has listened.
    private func echoCall(codecs: String, frequency: Int) async throws -> (result: [String: Any], status: StatusReportJSON) {
        try startSipp()
        let peer = try InteropPeer(script: "aiortc_peer.py", arguments: [
            "--codecs", codecs, "--frequency", String(frequency), "--duration", "4", "--timeout", "25",
        ], log: daemon.directory + "/aiortc.log")
        let offer = try XCTUnwrap(try peer.next()["sdp"] as? String)
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        let call = try await browser.call("2000", offer: offer)
        try peer.send(["type": "answer", "sdp": String(decoding: call.answer.body, as: UTF8.self)])
        try await Task.sleep(for: .seconds(2))
        try checkCallDetail()
        try checkMetrics()
        let result = try peer.next()
        guard let status = try? daemon.status() else {
            XCTFail("tandemd is not answering: \(daemon.stderr.suffix(4000))")
            throw CallFailure("tandemd is not answering")
        }
        // aiortc closed its peer connection (DTLS close_notify): Tandem ends the call on both sides.
        let bye = try await browser.awaitBYE(timeout: .seconds(10))
        XCTAssertEqual(bye.headers["Reason"], "SIP;cause=500;text=\"DTLS closed by the peer\"")
        XCTAssertEqual(waitForSipp(), 0, "sipp: " + ((try? String(contentsOfFile: daemon.directory + "/sipp-errors.log", encoding: .utf8)) ?? ""))
        await browser.close()
        try checkCDR(callID: try XCTUnwrap(lastCallID))
        return (result, status)
    }

    private var lastCallID: String?

    /// `tandemctl calls` lists the call; `tandemctl call ID --json` shows packets both ways on
    /// both legs, the SRTP profile and the selected ICE pair.
    private func checkCallDetail() throws {
        let list = try daemon.ctl(["calls", "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let calls = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(calls.count, 1, list.stdout)
        let id = try XCTUnwrap(calls.first?["id"] as? String)
        lastCallID = id
        XCTAssertEqual(calls.first?["state"] as? String, "answered")
        XCTAssertEqual(calls.first?["callee"] as? String, "2000")
        let text = try daemon.ctl(["calls"])
        XCTAssertTrue(text.stdout.contains("2000") && text.stdout.contains("pbx"), text.stdout)

        let detail = try daemon.ctl(["call", id, "--json"])
        XCTAssertEqual(detail.status, 0, detail.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(detail.stdout.utf8)) as? [String: Any])
        let legs = try XCTUnwrap(object["legs"] as? [[String: Any]])
        XCTAssertEqual(legs.map { $0["side"] as? String }, ["web", "trunk"])
        for leg in legs {
            let received = (leg["received"] as? [String: Any])?["packets"] as? Int ?? 0
            let sent = (leg["sent"] as? [String: Any])?["packets"] as? Int ?? 0
            XCTAssertGreaterThan(received, 20, "\(leg)")
            XCTAssertGreaterThan(sent, 20, "\(leg)")
        }
        XCTAssertNotNil(legs[0]["srtp_profile"] as? String, "\(legs[0])")
        XCTAssertTrue((legs[0]["ice_selected_pair"] as? String ?? "").contains("<->"), "\(legs[0])")
        let human = try daemon.ctl(["call", id])
        XCTAssertTrue(human.stdout.contains("Web leg") && human.stdout.contains("Trunk leg"), human.stdout)
        // TANDEM_CAPTURE_OPERATIONS=FILE keeps the real output of the commands (for docs/operations.md).
        if let capture = ProcessInfo.processInfo.environment["TANDEM_CAPTURE_OPERATIONS"] {
            var text = ""
            for command in [["calls"], ["call", id], ["trunks"], ["status"], ["calls", "--json"], ["call", id, "--json"]] {
                text += "$ tandemctl \(command.joined(separator: " "))\n" + (try daemon.ctl(command)).stdout + "\n"
            }
            try text.write(toFile: capture, atomically: true, encoding: .utf8)
        }
        XCTAssertEqual(try daemon.ctl(["call", "no-such-call"]).status, 1)
    }

    /// /metrics, parsed by the reference Prometheus client's parser: sample -> value.
    private func scrapeMetrics() throws -> [String: Double] {
        let port = try XCTUnwrap(try daemon.status().http?.port)
        let run = try runTool(InteropPeer.python, [InteropPeer.script("parse_metrics.py"), "--url", "http://127.0.0.1:\(port)/metrics"])
        XCTAssertEqual(run.status, 0, "the exposition must parse: \(run.stderr)")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        return try XCTUnwrap(object["samples"] as? [String: Double])
    }

    /// During a call the call and packet counters move between two scrapes.
    private func checkMetrics() throws {
        let first = try scrapeMetrics()
        Thread.sleep(forTimeInterval: 1)
        let second = try scrapeMetrics()
        XCTAssertEqual(second["tandem_calls_active{}"], 1)
        for sample in ["tandem_rtp_packets_total{direction=received,leg=web}", "tandem_rtp_packets_total{direction=sent,leg=trunk}",
                       "tandem_rtp_packets_total{direction=received,leg=trunk}", "tandem_rtp_packets_total{direction=sent,leg=web}"] {
            XCTAssertGreaterThan(second[sample] ?? 0, (first[sample] ?? 0) + 20, "\(sample) moves during the call")
        }
        XCTAssertGreaterThan(second["tandem_sip_requests_total{method=INVITE}"] ?? 0, 0)
        XCTAssertNotNil(second["tandem_worker_load_ratio{loop=0}"])
        XCTAssertEqual(second["tandem_media_ports_in_use{}"], 2)
    }

    /// After the call, its CDR line holds the parties, the end and each leg's quality.
    private func checkCDR(callID: String) throws {
        var line: [String: Any]?
        for _ in 0..<50 where line == nil {
            let text = (try? String(contentsOfFile: daemon.directory + "/cdr.jsonl", encoding: .utf8)) ?? ""
            line = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .first { $0["call_id"] as? String == callID }
            if line == nil { Thread.sleep(forTimeInterval: 0.1) }
        }
        let cdr = try XCTUnwrap(line, "no CDR for \(callID)")
        if let capture = ProcessInfo.processInfo.environment["TANDEM_CAPTURE_OPERATIONS"] {
            let text = (try? String(contentsOfFile: daemon.directory + "/cdr.jsonl", encoding: .utf8)) ?? ""
            try text.split(separator: "\n").first { $0.contains(callID) }.map(String.init)?.write(toFile: capture + ".cdr", atomically: true, encoding: .utf8)
        }
        XCTAssertEqual(cdr["callee"] as? String, "2000")
        XCTAssertEqual(cdr["ended_by"] as? String, "media")
        XCTAssertEqual(cdr["end_reason"] as? String, "DTLS closed by the peer")
        XCTAssertEqual(cdr["end_cause"] as? String, "dtls_closed_by_peer")
        XCTAssertGreaterThan(cdr["talk_seconds"] as? Double ?? 0, 3)
        let legs = try XCTUnwrap(cdr["legs"] as? [[String: Any]])
        XCTAssertEqual(legs.count, 2)
        for leg in legs {
            XCTAssertGreaterThan(leg["packets_received"] as? Int ?? 0, 100, "\(leg)")
            XCTAssertNotNil(leg["mos"] as? Double, "\(leg)")
            XCTAssertNotNil(leg["jitter_milliseconds"] as? Double, "\(leg)")
        }
    }

    private func assertToneCameBack(_ result: [String: Any], frequency: Double, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result["connected"] as? Bool, true, "\(result)\n\(daemon.stderr.suffix(2000))", file: file, line: line)
        let heard = result["dominantFrequency"] as? Double ?? 0
        XCTAssertEqual(heard, frequency, accuracy: 15, "aiortc heard \(heard) Hz: \(result)", file: file, line: line)
        let received = result["packetsReceived"] as? Int ?? 0
        let lost = result["packetsLost"] as? Int ?? 0
        XCTAssertGreaterThan(received, 150, "\(result)", file: file, line: line)
        XCTAssertLessThan(Double(lost), Double(received + lost) * 0.01, "over 1 % lost: \(result)", file: file, line: line)
    }

    func testOpusBrowserThroughPCMUTrunkIsTranscodedAndTheToneComesBack() async throws {
        let (result, status) = try await echoCall(codecs: "opus", frequency: 660)
        assertToneCameBack(result, frequency: 660)
        XCTAssertEqual(result["codec"] as? String, "audio/opus/48000")
        XCTAssertEqual(status.media?["transcoded_calls"], 1)
        XCTAssertEqual(status.media?["relayed_calls"], 0)
    }

    func testPCMUBrowserIsRelayedWithoutTranscoding() async throws {
        let (result, status) = try await echoCall(codecs: "PCMU", frequency: 660)
        assertToneCameBack(result, frequency: 660)
        XCTAssertEqual(result["codec"] as? String, "audio/PCMU/8000")
        XCTAssertEqual(status.media?["relayed_calls"], 1)
        XCTAssertEqual(status.media?["transcoded_calls"], 0)
    }

    /// A call that connects, then loses what `spoil` does to it; returns Tandem's BYE.
    private func callEndedByTandem(offerEdit: (String) -> String = { $0 }, afterConnect: ((InteropPeer) -> Void)? = nil,
                                   timeout: TimeAmount) async throws -> SIPRequest {
        try startSipp()
        let peer = try InteropPeer(script: "aiortc_peer.py", arguments: ["--codecs", "opus", "--duration", "60", "--timeout", "25"],
                                   log: daemon.directory + "/aiortc.log")
        let offer = offerEdit(try XCTUnwrap(try peer.next()["sdp"] as? String))
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        let call = try await browser.call("2000", offer: offer)
        try peer.send(["type": "answer", "sdp": String(decoding: call.answer.body, as: UTF8.self)])
        if let afterConnect {
            try await Task.sleep(for: .seconds(3))
            afterConnect(peer)
        }
        let bye = try await browser.awaitBYE(timeout: timeout)
        XCTAssertEqual(waitForSipp(), 0, "the trunk gets its BYE too")
        XCTAssertEqual(try daemon.status().activeCalls, 0)
        XCTAssertEqual(try daemon.status().media?["ports_in_use"], 0, "the call's ports are back in the pool")
        peer.resume()
        await browser.close()
        return bye
    }

    func testAFingerprintMismatchEndsTheCall() async throws {
        // The browser's certificate will not match the a=fingerprint Tandem was given.
        let bye = try await callEndedByTandem(offerEdit: { sdp in
            var lines = sdp.components(separatedBy: "\r\n")
            for index in lines.indices where lines[index].hasPrefix("a=fingerprint:sha-256 ") {
                let hex = lines[index].dropFirst("a=fingerprint:sha-256 ".count)
                lines[index] = "a=fingerprint:sha-256 " + (hex.hasPrefix("00") ? "11" : "00") + hex.dropFirst(2)
            }
            return lines.joined(separator: "\r\n")
        }, timeout: .seconds(20))
        let reason = try XCTUnwrap(bye.headers["Reason"])
        XCTAssertTrue(reason.hasPrefix("SIP;cause=500;text="), reason)
        XCTAssertTrue(reason.contains("does not match a=fingerprint"), reason)
        XCTAssertEqual(try daemon.status().media?["media_failures"], 1)
        try checkFailureCounted("dtls_fingerprint_mismatch")
    }

    func testABrowserThatStopsSendingConsentChecksIsHungUpWithin35Seconds() async throws {
        let started = Date()
        let bye = try await callEndedByTandem(afterConnect: { $0.suspend() }, timeout: .seconds(40))
        XCTAssertEqual(bye.headers["Reason"], "SIP;cause=500;text=\"ICE consent expired\"")
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 30, "consent lasts 30 s after the last check")
        XCTAssertLessThan(elapsed, 40)
        try checkFailureCounted("ice_consent_expired")
    }

    /// The one failure is counted under its cause, every other cause is exported at 0, and the
    /// "media failed" and "call ended" log lines name it.
    private func checkFailureCounted(_ cause: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let failures = try scrapeMetrics().filter { $0.key.hasPrefix("tandem_media_failures_total{") }
        XCTAssertEqual(failures["tandem_media_failures_total{cause=\(cause)}"], 1, "\(failures)", file: file, line: line)
        XCTAssertEqual(failures.values.reduce(0, +), 1, "\(failures)", file: file, line: line)
        XCTAssertGreaterThan(failures.count, 5, "every cause is exported", file: file, line: line)
        func logged(_ message: String) -> Bool {
            daemon.stderr.split(separator: "\n").contains { $0.contains(message) && $0.contains(" cause=\(cause)") && $0.contains(" call=") }
        }
        for _ in 0..<50 where !logged("call ended") { Thread.sleep(forTimeInterval: 0.1) }  // after the call's last figures
        XCTAssertTrue(logged("media failed"), daemon.stderr.suffix(3000).description, file: file, line: line)
        XCTAssertTrue(logged("call ended"), daemon.stderr.suffix(3000).description, file: file, line: line)
    }

    func testATrunkCallsABrowserThatAnswersAndTheToneComesBack() async throws {
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        try await browser.register()
        let udpPort = try XCTUnwrap(try daemon.status().listeners.first { $0.transport == "udp" }?.port)
        let sipp = Process()
        sipp.executableURL = URL(fileURLWithPath: "/usr/bin/sipp")
        sipp.arguments = [
            "-sf", URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scenarios/uac-pcmu.xml").path,
            "127.0.0.1:\(udpPort)", "-s", "1001", "-i", "127.0.0.1", "-p", String(sippPort), "-mp", String(LoopbackUDPSocket.freePort()),
            "-rtp_echo", "-d", "4000", "-m", "1", "-nostdin", "-timeout", "60s", "-trace_err", "-error_file", daemon.directory + "/sipp-errors.log",
        ]
        sipp.standardOutput = FileHandle.nullDevice
        sipp.standardError = FileHandle.nullDevice
        try sipp.run()
        self.sipp = sipp

        try ctl(["registrations"])
        let invite = try await browser.awaitInvite(timeout: .seconds(10))
        let offer = try SessionDescription(parsing: String(decoding: invite.body, as: UTF8.self))
        XCTAssertEqual(offer.media.first?.attributes.first { $0.name == "setup" }?.value, "actpass")
        let peer = try InteropPeer(script: "aiortc_peer.py", arguments: ["--answer", "--frequency", "660", "--duration", "6", "--timeout", "25"],
                                   log: daemon.directory + "/aiortc.log")
        try peer.send(["type": "offer", "sdp": String(decoding: invite.body, as: UTF8.self)])
        let answer = try XCTUnwrap(try peer.next()["sdp"] as? String)
        _ = try await browser.answer(invite, sdp: answer)
        // The trunk hangs up after 4 s; the browser gets the BYE while it still listens.
        let bye = try await browser.awaitBYE(timeout: .seconds(15))
        XCTAssertNil(bye.headers["Reason"], "a normal hang-up")
        let result = try peer.next()
        assertToneCameBack(result, frequency: 660)
        XCTAssertEqual(waitForSipp(), 0, "sipp: " + ((try? String(contentsOfFile: daemon.directory + "/sipp-errors.log", encoding: .utf8)) ?? ""))
        await browser.close()
    }

    // MARK: Operations during calls

    /// Runs tandemctl; with TANDEM_CAPTURE_OPERATIONS=FILE set, appends the command and its
    /// output to FILE.ops (for docs/operations.md).
    @discardableResult
    private func ctl(_ arguments: [String]) throws -> ToolResult {
        let run = try daemon.ctl(arguments)
        if let capture = ProcessInfo.processInfo.environment["TANDEM_CAPTURE_OPERATIONS"] {
            let entry = "$ tandemctl \(arguments.joined(separator: " "))\n\(run.stdout)\(run.stderr)\n"
            let path = capture + ".ops"
            let previous = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            try (previous + entry).write(toFile: path, atomically: true, encoding: .utf8)
        }
        return run
    }

    /// JSON of a tandemctl command.
    private func ctlJSON(_ arguments: [String]) throws -> Any {
        let run = try daemon.ctl(arguments + ["--json"])
        XCTAssertEqual(run.status, 0, "\(arguments): \(run.stderr)")
        return try JSONSerialization.jsonObject(with: Data(run.stdout.utf8))
    }

    private func trunkPacketsReceived(_ id: String) throws -> Int {
        let detail = try XCTUnwrap(try ctlJSON(["call", id]) as? [String: Any])
        let legs = try XCTUnwrap(detail["legs"] as? [[String: Any]])
        return (legs.last?["received"] as? [String: Any])?["packets"] as? Int ?? 0
    }

    /// A browser call that is up: the peer listening for `seconds`, the SIP call, its short id.
    private func placeCall(seconds: Int, known: Set<String> = []) async throws -> (InteropPeer, BrowserSIPUser, BrowserSIPUser.Call, String) {
        let peer = try InteropPeer(script: "aiortc_peer.py", arguments: ["--codecs", "PCMU", "--duration", String(seconds), "--timeout", "25"],
                                   log: daemon.directory + "/aiortc-\(UUID().uuidString.prefix(4)).log")
        let offer = try XCTUnwrap(try peer.next()["sdp"] as? String)
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        let call = try await browser.call("2000", offer: offer)
        try peer.send(["type": "answer", "sdp": String(decoding: call.answer.body, as: UTF8.self)])
        try await Task.sleep(for: .seconds(2))
        let calls = try XCTUnwrap(try ctlJSON(["calls"]) as? [[String: Any]])
        let id = try XCTUnwrap(calls.compactMap { $0["id"] as? String }.first { !known.contains($0) })
        return (peer, browser, call, id)
    }

    func testAReloadChangesTheNextCallAndLeavesTheEstablishedOneAlone() async throws {
        try startSipp(calls: 2)
        let (firstPeer, firstBrowser, _, first) = try await placeCall(seconds: 14)
        let before = try trunkPacketsReceived(first)

        // The trunk's codec profile now prefers PCMA: applied by `tandemctl reload`.
        let config = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
            .replacingOccurrences(of: "codec_profile: g711", with: "codec_profile: alaw-first")
            + "codec_profiles:\n  - {name: alaw-first, codecs: [pcma, pcmu, telephone-event], ptime: 20}\n"
        try daemon.write(config: config)
        let reload = try ctl(["reload"])
        XCTAssertEqual(reload.status, 0, reload.stderr)
        XCTAssertTrue(reload.stdout.contains("configuration reloaded"), reload.stdout)

        // The established call goes on with PCMU, its media still flowing.
        try await Task.sleep(for: .seconds(1))
        XCTAssertGreaterThan(try trunkPacketsReceived(first), before + 20)
        let firstDetail = try XCTUnwrap(try ctlJSON(["call", first]) as? [String: Any])
        XCTAssertEqual((firstDetail["summary"] as? [String: Any])?["trunk_codec"] as? String, "PCMU/8000")

        // The next call is offered to the trunk with PCMA first.
        let (secondPeer, secondBrowser, _, _) = try await placeCall(seconds: 3, known: [first])
        _ = try secondPeer.next()
        _ = try firstPeer.next()
        for browser in [firstBrowser, secondBrowser] {
            _ = try? await browser.awaitBYE(timeout: .seconds(5))
            await browser.close()
        }
        XCTAssertEqual(waitForSipp(), 0)
        // sipp's message log (written out when it exits) holds what Tandem offered each time.
        let messages = (try? String(contentsOfFile: daemon.directory + "/sipp-messages.log", encoding: .utf8)) ?? ""
        let offers = messages.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }  // CRLF is one Character
            .filter { $0.hasPrefix("m=audio") && $0.contains("101") }
        XCTAssertEqual(offers.count, 2, "Tandem's two offers in sipp's log: \(offers)")
        XCTAssertTrue(offers.first?.hasSuffix("RTP/AVP 0 8 101") == true, "the first call's offer: \(offers)")
        XCTAssertTrue(offers.last?.hasSuffix("RTP/AVP 8 0 101") == true, "the next call's offer: \(offers)")
    }

    func testTheOperatorHangsUpACallAndDrainsTheNode() async throws {
        try startSipp()
        let (peer, browser, _, id) = try await placeCall(seconds: 8)
        let hangup = try ctl(["hangup", String(id.prefix { $0 != "@" })])
        XCTAssertEqual(hangup.status, 0, hangup.stderr)
        let bye = try await browser.awaitBYE(timeout: .seconds(5))
        XCTAssertEqual(bye.headers["Reason"], "SIP;cause=200;text=\"ended by the operator\"")
        XCTAssertEqual(waitForSipp(), 0, "the trunk got its BYE")
        XCTAssertEqual(try ctl(["hangup", id]).status, 1, "no such call any more")
        _ = try peer.next()

        // Drained: a new call gets 503, /healthz says so; undrained: calls are taken again.
        XCTAssertEqual(try ctl(["drain"]).status, 0)
        XCTAssertEqual(try daemon.status().state, "draining")
        let offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
        do {
            _ = try await browser.call("2000", offer: offer)
            XCTFail("a drained node takes no call")
        } catch let failure as CallFailure {
            XCTAssertTrue(failure.description.contains("503"), failure.description)
        }
        XCTAssertEqual(try ctl(["undrain"]).status, 0)
        XCTAssertEqual(try daemon.status().state, "running")
        await browser.close()
        let cdrs = (try? String(contentsOfFile: daemon.directory + "/cdr.jsonl", encoding: .utf8)) ?? ""
        XCTAssertTrue(cdrs.contains("\"ended_by\":\"operator\""), cdrs)
    }
}
