// The demo web phone: served by tandemd's HTTP listener only when `http.demo_phone` is on, and
// working end to end in headless Chromium. The whole call test runs tandemd, sipp and Chromium in
// a private network namespace holding only loopback (when run as root, as `make test` does here);
// Tests/Interop/demo_phone_driver.py drives the page and plays the trunk's media with a socket
// that counts the PCMU and telephone-event packets it gets and echoes them back.

import Foundation
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
        XCTAssertEqual(try httpGet(port: port, path: "/phone/phone.css").statusLine, "HTTP/1.1 200 OK")
        XCTAssertEqual(try httpGet(port: port, path: "/phone/config.json").body, "{\"sockets\":[{\"scheme\":\"ws\",\"port\":\(wsPort)}]}\n")
        XCTAssertEqual(try httpGet(port: port, path: "/phone").statusLine, "HTTP/1.1 301 Moved Permanently")
        XCTAssertEqual(try httpGet(port: port, path: "/phone/../../etc/passwd").statusLine, "HTTP/1.1 404 Not Found")
        XCTAssertEqual(try httpGet(port: port, path: "/phone/secret.js").statusLine, "HTTP/1.1 404 Not Found")
        XCTAssertEqual(try httpGet(port: port, path: "/healthz").body, "ok\n")
        XCTAssertTrue(on.isRunning)
    }

    func testTheDemoPhoneCallsAndAnswersThroughATrunkInHeadlessChromium() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sipp") else {
            throw XCTSkip("sipp is not installed (make test-deps installs sip-tester)")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/lib/chromium/chromium") || FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            throw XCTSkip("chromium is not installed (make test-deps installs it)")
        }
        guard InteropPeer.available("demo_phone_driver.py") else {
            throw XCTSkip("the interop environment is not installed (scripts/install-interop.sh, run by make test)")
        }
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
                       "--unrouted", "555", "--screenshot", screenshot]
        if isolated { command = ["/usr/bin/nsenter", "--net=/proc/\(daemon.pid)/ns/net"] + command }
        let run = try runTool(command[0], Array(command.dropFirst()))
        let logs = { () -> String in
            let sipp = ["sipp-uas.log.errors", "sipp-uac.log.errors"].compactMap {
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
