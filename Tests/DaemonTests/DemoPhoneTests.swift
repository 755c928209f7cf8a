// The demo web phone: served by tandemd's HTTP listener only when `http.demo_phone` is on, and
// working end to end in headless Chromium. The whole call test runs tandemd, sipp and Chromium in
// a private network namespace holding only loopback (when run as root, as `make test` does here);
// Tests/Interop/demo_phone_driver.py drives the page and plays the trunk's media with a socket
// that counts the PCMU and telephone-event packets it gets and echoes them back.

import Foundation
import TandemTestPeers
import TandemTestSupport
import XCTest

final class DemoPhoneTests: XCTestCase {
    private var daemons: [DaemonUnderTest] = []

    override func tearDown() {
        for daemon in daemons where daemon.isRunning {
            daemon.send(SIGTERM)
            _ = daemon.waitForExit(timeout: 10)
        }
        daemons = []
    }

    private func started(demoPhone: Bool, extraConfig: String = "", wrapper: [String] = []) throws -> DaemonUnderTest {
        let daemon = try DaemonUnderTest(demoPhone: demoPhone, extraConfig: extraConfig)
        daemons.append(daemon)
        try daemon.start(wrapper: wrapper)
        XCTAssertNotNil(daemon.notify.waitFor("READY=1"), daemon.stderr)
        return daemon
    }

    /// A file of the phone as checked in (Sources/Control/DemoPhone/).
    private func demoPhoneFile(_ name: String) throws -> [UInt8] {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return Array(try Data(contentsOf: sources.appendingPathComponent("Sources/Control/DemoPhone/\(name)")))
    }

    func testThePhoneIsServedOnlyWhenTurnedOn() throws {
        let off = try started(demoPhone: false)
        let offPort = try XCTUnwrap(try off.status().http?.port)
        XCTAssertEqual(try httpGet(port: offPort, path: "/phone/").statusLine, "HTTP/1.1 404 Not Found")
        XCTAssertEqual(try httpGet(port: offPort, path: "/phone/phone.js").statusLine, "HTTP/1.1 404 Not Found")
        XCTAssertEqual(try httpGet(port: offPort, path: "/healthz").body, "ok\n")

        let on = try started(demoPhone: true)
        let status = try on.status()
        let port = try XCTUnwrap(status.http?.port)
        let wsPort = try XCTUnwrap(status.listeners.first { $0.transport == "ws" }?.port)
        let page = try httpGet(port: port, path: "/phone/")
        XCTAssertEqual(page.statusLine, "HTTP/1.1 200 OK")
        XCTAssertTrue(page.body.contains("<script src=\"phone.js\"></script>"), page.body)
        XCTAssertEqual(try httpGet(port: port, path: "/phone/index.html?user=1001").body, page.body)
        let script = try httpGet(port: port, path: "/phone/phone.js")
        XCTAssertEqual(script.statusLine, "HTTP/1.1 200 OK")
        XCTAssertTrue(script.body.contains("window.tandemPhone"))
        // The "Test call" button dials the echo test endpoint.
        XCTAssertTrue(page.body.contains("<button id=\"testcall\" disabled"), page.body)
        XCTAssertTrue(script.body.contains("$(\"testcall\").onclick = guard(() => call(\"echo\"));"), "no test call handler")
        let style = try httpGet(port: port, path: "/phone/phone.css")
        XCTAssertEqual(style.statusLine, "HTTP/1.1 200 OK")
        // What is served is the files' bytes, unchanged.
        XCTAssertEqual(Array(page.body.utf8), try demoPhoneFile("index.html"))
        XCTAssertEqual(Array(script.body.utf8), try demoPhoneFile("phone.js"))
        XCTAssertEqual(Array(style.body.utf8), try demoPhoneFile("phone.css"))
        XCTAssertEqual(try httpGet(port: port, path: "/phone/config.json").body, "{\"sockets\":[{\"scheme\":\"ws\",\"port\":\(wsPort)}]}\n")
        XCTAssertEqual(try httpGet(port: port, path: "/phone").statusLine, "HTTP/1.1 301 Moved Permanently")
        XCTAssertEqual(try httpGet(port: port, path: "/phone/../../etc/passwd").statusLine, "HTTP/1.1 404 Not Found")
        XCTAssertEqual(try httpGet(port: port, path: "/phone/secret.js").statusLine, "HTTP/1.1 404 Not Found")
        XCTAssertEqual(try httpGet(port: port, path: "/healthz").body, "ok\n")
        XCTAssertTrue(on.isRunning)
    }

    func testTheDemoPhoneCallsAndAnswersThroughATrunkInHeadlessChromium() throws {
        try requirePeer("/usr/bin/sipp", "sipp (Debian sip-tester)")
        try requirePeer(anyOf: ["/usr/lib/chromium/chromium", "/usr/bin/chromium"], "Chromium (Debian chromium)")
        try InteropPeer.require("demo_phone_driver.py")
        // A namespace of its own with only `lo` up: nothing the browser gathers or sends can leave.
        let isolated = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/nsenter")
        let wrapper = isolated ? ["/usr/bin/unshare", "-n", "/bin/sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""] : []
        let trunkPort = LoopbackUDPSocket.freePort()
        let daemon = try started(demoPhone: true, extraConfig: DaemonUnderTest.trunkAndUser(trunkPort: trunkPort), wrapper: wrapper)
        let status = try daemon.status()
        let httpPort = try XCTUnwrap(status.http?.port)
        let sipPort = try XCTUnwrap(status.listeners.first { $0.transport == "udp" }?.port)
        let wsPort = try XCTUnwrap(status.listeners.first { $0.transport == "ws" }?.port)

        let screenshot = daemon.directory + "/demo-phone.png"
        let scenarios = Binaries.packageRoot.appendingPathComponent("Tests/DaemonTests/Scenarios").path
        var command = [InteropPeer.python, InteropPeer.script("demo_phone_driver.py"),
                       "--http-port", String(httpPort), "--sip-port", String(sipPort), "--trunk-port", String(trunkPort),
                       "--uac-port", String(LoopbackUDPSocket.freePort()), "--echo-port", String(LoopbackUDPSocket.freePort()),
                       "--sipp-media-port", String(LoopbackUDPSocket.freePort()), "--scenarios", scenarios,
                       "--work", daemon.directory, "--user", "1001", "--password", "pw-1001", "--number", "2000",
                       "--unrouted", "555", "--busy-number", "2001", "--ringing-number", "2002", "--screenshot", screenshot]
        if isolated { command = ["/usr/bin/nsenter", "--net=/proc/\(daemon.pid)/ns/net"] + command }
        let run = try runTool(command[0], Array(command.dropFirst()))
        let logs = { () -> String in
            let sipp = ["sipp-uas.log.errors", "sipp-uas-busy.log.errors", "sipp-uas-ring.log.errors", "sipp-uac.log.errors"].compactMap {
                try? String(contentsOfFile: daemon.directory + "/" + $0, encoding: .utf8)
            }.joined(separator: "\n")
            return "driver stderr:\n\(run.stderr.suffix(3000))\nsipp:\n\(sipp.suffix(3000))\ntandemd:\n\(daemon.stderr.suffix(3000))"
        }
        let line = try XCTUnwrap(run.stdout.split(separator: "\n").last, logs())
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertTrue(result["error"] is NSNull, "\(result["error"] ?? "")\n\(logs())")

        // Failures read plainly.
        let wrong = result["wrongPassword"] as? [String: Any]
        XCTAssertEqual(wrong?["outcome"] as? String, "failed")
        let wrongMessage = (wrong?["status"] as? [String: Any])?["message"] as? String ?? ""
        XCTAssertTrue(wrongMessage.hasPrefix("Registration refused: 403"), wrongMessage)
        let rejected = result["rejected"] as? [String: Any]
        XCTAssertEqual(rejected?["outcome"] as? String, "rejected")
        let rejectedMessage = (rejected?["status"] as? [String: Any])?["message"] as? String ?? ""
        XCTAssertNotNil(rejectedMessage.range(of: #"^Call rejected: [456]\d\d \S"#, options: .regularExpression), rejectedMessage)

        // Registration over the WebSocket listener the page learnt from config.json.
        XCTAssertEqual(result["wsURL"] as? String, "ws://127.0.0.1:\(wsPort)")
        XCTAssertEqual(result["register"] as? String, "registered")

        // The outgoing call: audio both ways (the page hears its tone echoed by the trunk; the trunk
        // counts PCMU), DTMF as RFC 4733 events at the trunk, hold and resume through re-INVITEs
        // that sipp checks (a=sendonly, then a=sendrecv), hang-up with sipp's scenario complete.
        XCTAssertEqual(result["outcome"] as? String, "answered", logs())
        let inCall = result["inCall"] as? [String: Any] ?? [:]
        XCTAssertGreaterThan(inCall["packetsReceived"] as? Int ?? 0, 100, "\(inCall)")
        XCTAssertGreaterThan(inCall["packetsSent"] as? Int ?? 0, 100, "\(inCall)")
        XCTAssertGreaterThan(inCall["audioLevel"] as? Double ?? 0, 0, "\(inCall)")
        XCTAssertNotNil(inCall["codec"] as? String, "\(inCall)")
        XCTAssertNotNil(inCall["jitter"] as? Double, "\(inCall)")
        // The browser offered PCMU, the trunk's codec: Tandem relays the call, and the panel says so.
        XCTAssertEqual(inCall["path"] as? String, "relayed", "\(inCall)")
        let inCallPanel = result["inCallPanel"] as? [String: Any] ?? [:]
        XCTAssertEqual(inCallPanel["s-codec"] as? String, "PCMU/8000 (relayed by the gateway)", "\(inCallPanel)")
        let trunk = result["trunkInCall"] as? [String: Any] ?? [:]
        XCTAssertGreaterThan(trunk["pcmu"] as? Int ?? 0, 100, "\(trunk)")
        XCTAssertEqual(result["dtmfQueued"] as? String, "1234#")
        let afterDTMF = result["afterDTMF"] as? [String: Any] ?? [:]
        XCTAssertEqual((afterDTMF["page"] as? [String: Any])?["dtmfSent"] as? String, "1234#")
        XCTAssertEqual((afterDTMF["trunk"] as? [String: Any])?["events"] as? [Int], [1, 2, 3, 4, 11], "\(afterDTMF)")
        XCTAssertEqual(result["hold"] as? String, "held")
        XCTAssertEqual((result["held"] as? [String: Any])?["held"] as? Bool, true)
        XCTAssertEqual(result["resume"] as? String, "resumed")
        let heldCount = (result["held"] as? [String: Any])?["packetsReceived"] as? Int ?? 0
        let resumedCount = (result["resumed"] as? [String: Any])?["packetsReceived"] as? Int ?? 0
        XCTAssertGreaterThan(resumedCount - heldCount, 50, "audio came back after resume")
        XCTAssertEqual(result["hangup"] as? Bool, true)
        XCTAssertEqual(result["uasExit"] as? Int, 0, logs())

        // Every ending reads the same: the badge says "ended" (and status().call with it) next to
        // the message for 3 s, then "idle", whether the call was hung up, rejected (404 from
        // Tandem, 486 from the trunk) or cancelled. And a call that never had media shows an
        // empty panel, not the figures of the answered call before it.
        let hungUp = result["afterHangupShown"] as? [String: Any] ?? [:]
        XCTAssertEqual(hungUp["badge"] as? String, "ended", "\(hungUp)")
        XCTAssertEqual((hungUp["status"] as? [String: Any])?["call"] as? String, "ended", "\(hungUp)")
        XCTAssertEqual((hungUp["status"] as? [String: Any])?["message"] as? String, "Call ended", "\(hungUp)")
        func assertEmptyPanel(_ shown: [String: Any], peer: String, _ what: String) {
            XCTAssertTrue(shown["stats"] is NSNull, "\(what): \(shown)")
            let panel = shown["panel"] as? [String: Any] ?? [:]
            XCTAssertEqual(panel["s-peer"] as? String, peer, "\(what): \(panel)")
            for cell in ["s-duration", "s-codec", "s-sent", "s-received", "s-lost", "s-jitter", "s-rtt", "s-dtmf"] {
                XCTAssertEqual(panel[cell] as? String, "-", "\(what): \(cell) in \(panel)")
            }
            XCTAssertEqual((panel["s-level"] as? NSNumber)?.doubleValue, 0, "\(what): \(panel)")
        }
        for (name, number, code) in [("rejectedAfterCall", "555", 404), ("busy", "2001", 486)] {
            let call = result[name] as? [String: Any] ?? [:]
            XCTAssertEqual(call["outcome"] as? String, "rejected", "\(name): \(call)\n\(logs())")
            let atOnce = call["atOnce"] as? [String: Any] ?? [:]
            let status = atOnce["status"] as? [String: Any] ?? [:]
            let message = status["message"] as? String ?? ""
            XCTAssertTrue(message.hasPrefix("Call rejected: \(code) "), "\(name): \(message)")
            XCTAssertEqual(atOnce["badge"] as? String, "ended", "\(name): \(atOnce)")
            XCTAssertEqual(status["call"] as? String, "ended", "\(name): \(status)")
            XCTAssertEqual(call["badgeLater"] as? String, "ended", "\(name): 1.5 s after the rejection")
            XCTAssertEqual(call["badgeAfter"] as? String, "idle", "\(name): 3.5 s after the rejection")
            XCTAssertEqual(call["callAfter"] as? String, "idle", "\(name): 3.5 s after the rejection")
            assertEmptyPanel(atOnce, peer: number, name)
        }
        XCTAssertEqual(result["busyUasExit"] as? Int, 0, logs())

        // Hung up while ringing: the page CANCELs, ACKs the 487 that ends its INVITE (RFC 3261
        // §17.1.1.3) and ends the call when the 487 arrives, not on its 4 s fallback; the trunk
        // gets its CANCEL and the ACK for its own 487 (sipp's scenario complete).
        XCTAssertEqual(result["ringing"] as? Bool, true, logs())
        XCTAssertEqual(result["cancelHangup"] as? Bool, true)
        XCTAssertEqual(result["cancelOutcome"] as? String, "cancelled", "\(result["afterCancel"] ?? "")")
        XCTAssertLessThan(result["cancelSeconds"] as? Double ?? 99, 1.5, "\(result["cancelLog"] ?? "")")
        let cancelLog = result["cancelLog"] as? [String] ?? []
        XCTAssertTrue(cancelLog.contains { $0.hasPrefix("\u{2192} CANCEL sip:2002@") }, "\(cancelLog)")
        let terminated = cancelLog.firstIndex { $0.hasPrefix("\u{2190} SIP/2.0 487 ") }
        XCTAssertNotNil(terminated, "\(cancelLog)")
        if let terminated {
            XCTAssertTrue(cancelLog[(terminated + 1)...].contains { $0.hasPrefix("\u{2192} ACK sip:2002@") }, "no ACK for the 487: \(cancelLog)")
        }
        let afterCancel = result["afterCancel"] as? [String: Any] ?? [:]
        XCTAssertEqual(afterCancel["badge"] as? String, "ended", "\(afterCancel)")
        XCTAssertEqual((afterCancel["status"] as? [String: Any])?["message"] as? String, "Call cancelled", "\(afterCancel)")
        assertEmptyPanel(afterCancel, peer: "2002", "cancelled")
        XCTAssertEqual(result["ringUasExit"] as? Int, 0, logs())

        // The trunk calls the page, which answers: audio both ways again.
        XCTAssertEqual(result["incomingAnswered"] as? Bool, true, logs())
        // Chromium's first ICE checks reach Tandem before its 200 OK does: Tandem listens from the
        // moment it offers, so media starts at once.
        XCTAssertLessThan(result["incomingMediaDelay"] as? Double ?? 99, 1.5, "\(result["incomingMediaDelay"] ?? "") \(daemon.stderr.suffix(6000))")
        let incoming = result["incoming"] as? [String: Any] ?? [:]
        XCTAssertGreaterThan(incoming["packetsReceived"] as? Int ?? 0, 100, "\(incoming)")
        XCTAssertGreaterThan(incoming["audioLevel"] as? Double ?? 0, 0, "\(incoming)")
        let trunkIncoming = result["trunkIncoming"] as? [String: Any] ?? [:]
        XCTAssertGreaterThan(trunkIncoming["pcmu"] as? Int ?? 0, 100, "\(trunkIncoming)")
        XCTAssertEqual(result["uacExit"] as? Int, 0, logs())
        let after = result["afterIncoming"] as? [String: Any] ?? [:]
        XCTAssertEqual(after["message"] as? String, "Call ended by the other side", "\(after)")

        // A screenshot was taken mid-call; tandemd is still up with no call left.
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        if let keep = ProcessInfo.processInfo.environment["TANDEM_DEMO_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: screenshot, toPath: keep)
        }
        XCTAssertTrue(daemon.isRunning)
        XCTAssertEqual(try daemon.status().activeCalls, 0)
    }
}
