// What an operator sees, checked against a running tandemd with real peers: aiortc as the
// browser's WebRTC stack (its SIP carried over WebSocket by the test), sipp as the trunk.
// A wrong password, an unknown user, an unrouted number, a clean hang-up and a drain 503 each
// leave the log line, the CDR line and the metric series an operator expects, with the values
// they expect; the shipped fail2ban filter, alert rules and dashboard are checked against that
// real log and that real scrape. A trunk that stops answering OPTIONS gets no calls: 503 within
// a second, or the next trunk of the rule; it takes calls again once it answers.

import Foundation
import ICE
import NIOCore
import NIOPosix
import SIP
import TandemTestPeers
import TandemTestSupport
import XCTest

final class OperatorVisibilityTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var daemon: DaemonUnderTest!
    private var processes: [Process] = []
    private var wsPort = 0
    private static let scenarios = Binaries.packageRoot.appendingPathComponent("Tests/DaemonTests/Scenarios").path
    /// An offer for calls refused before their SDP is read.
    private let placeholderOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"

    override func setUp() async throws {
        try requirePeer("/usr/bin/sipp", "sipp (Debian sip-tester)")
        try InteropPeer.require("aiortc_peer.py")
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    override func tearDown() async throws {
        // sipp waits for its calls to end on SIGTERM; a looping scenario never ends.
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        daemon?.send(SIGTERM)
        _ = daemon?.waitForExit(timeout: 10)
        try? await group?.shutdownGracefully()
    }

    private func start(_ extraConfig: String) throws {
        daemon = try DaemonUnderTest(extraConfig: extraConfig + "cdr_file: cdr.jsonl\n")
        wsPort = try daemon.startReady()
    }

    /// sipp on `port`: the built-in UAS echoing RTP, or a scenario of ours.
    @discardableResult
    private func sipp(port: Int, scenario: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sipp")
        process.currentDirectoryURL = URL(fileURLWithPath: daemon.directory)
        let kind = scenario.map { ["-sf", Self.scenarios + "/" + $0] } ?? ["-sn", "uas", "-rtp_echo"]
        process.arguments = kind + [
            "-i", "127.0.0.1", "-p", String(port), "-mp", String(LoopbackUDPSocket.freePort()), "-m", "1", "-nostdin", "-timeout", "90s",
            "-trace_err", "-error_file", daemon.directory + "/sipp-\(port)-errors.log",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        processes.append(process)
        Thread.sleep(forTimeInterval: 0.3)  // its socket is bound
        return process
    }

    private func exitStatus(_ process: Process, within seconds: TimeInterval = 15) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// A browser call that fails; returns the failure's text (it names the status).
    private func failingCall(_ number: String, user: String = "1001", password: String = "pw-1001") async throws -> String {
        let browser = try await BrowserSIPUser(port: wsPort, username: user, password: password, group: group)
        defer { Task { await browser.close() } }
        do {
            _ = try await browser.call(number, offer: placeholderOffer)
        } catch let failure as CallFailure {
            return failure.description
        }
        XCTFail("the call to \(number) as \(user) was answered")
        return ""
    }

    /// aiortc calls `number` through Tandem as 1001, talks for two seconds, and hangs up with a
    /// BYE of its own. Returns the call id.
    private func answeredCallHungUpByTheBrowser(_ number: String) async throws -> String {
        let peer = try InteropPeer(script: "aiortc_peer.py", arguments: ["--codecs", "PCMU", "--duration", "4", "--timeout", "25"],
                                   log: daemon.directory + "/aiortc-\(number).log")
        let offer = try XCTUnwrap(try peer.next()["sdp"] as? String)
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        let call = try await browser.call(number, offer: offer)
        try peer.send(["type": "answer", "sdp": String(decoding: call.answer.body, as: UTF8.self)])
        try await Task.sleep(for: .seconds(2))
        let listed = try daemon.ctl(["calls", "--json"])
        let calls = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], listed.stdout)
        let id = try XCTUnwrap(calls.first?["id"] as? String, listed.stdout)
        let bye = try await browser.hangUp(call)
        XCTAssertEqual(bye.statusCode, 200)
        _ = try peer.next()
        await browser.close()
        return id
    }

    /// The log lines whose message is `message`, each as its fields.
    private func logLines(_ message: String, level: String) -> [[String: String]] {
        daemon.stderr.split(separator: "\n").compactMap { line -> [String: String]? in
            guard let range = line.range(of: " \(level) tandemd: \(message) ") else { return nil }
            return Self.fields(String(line[range.upperBound...]))
        }
    }

    /// `key=value key="quoted value"` pairs.
    private static func fields(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(text)
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces)
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let character = rest.first, character != "\"" {
                    if character == "\\", rest.count > 1 { rest = rest.dropFirst() }
                    value.append(rest.first!)
                    rest = rest.dropFirst()
                }
                rest = rest.dropFirst()
            } else {
                value = String(rest.prefix { $0 != " " })
                rest = rest.dropFirst(value.count)
            }
            result[key] = value
            rest = rest.drop { $0 == " " }
        }
        return result
    }

    private func cdrLines(count: Int) throws -> [[String: Any]] {
        var lines: [[String: Any]] = []
        for _ in 0..<50 {
            let text = (try? String(contentsOfFile: daemon.directory + "/cdr.jsonl", encoding: .utf8)) ?? ""
            lines = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            if lines.count >= count { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertEqual(lines.count, count, "CDR lines: \(lines)")
        return lines
    }

    /// The raw exposition, and its samples as the reference Prometheus client parses them.
    private func scrape() throws -> (text: String, samples: [String: Double]) {
        let port = try XCTUnwrap(try daemon.status().http?.port)
        let text = try httpGet(port: port, path: "/metrics").body
        let path = daemon.directory + "/metrics.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let run = try runTool(InteropPeer.python, [InteropPeer.script("parse_metrics.py"), "--url", "http://127.0.0.1:\(port)/metrics"])
        XCTAssertEqual(run.status, 0, "the exposition must parse: \(run.stderr)")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        return (text, try XCTUnwrap(object["samples"] as? [String: Double]))
    }

    // MARK: Guessing

    /// The brute force that got through before: wrong guesses for 1001 with good logins as
    /// another user in between, from one address. The good logins reset nothing: the tenth
    /// failure locks the address (logged), and then even the right password is refused.
    func testGuessingFromOneAddressIsLockedOutAndAGoodLoginOfAnotherUserResetsNothing() async throws {
        try start(DaemonUnderTest.trunkAndUser(trunkPort: LoopbackUDPSocket.freePort()).replacingOccurrences(
            of: "  - {username: \"1001\", password: pw-1001}", with: "  - {username: \"1001\", password: pw-1001}\n  - {username: \"1002\", password: pw-1002}"))
        /// A REGISTER as `user` that must be refused; the refusal's text.
        func refusedRegistration(_ user: String, _ password: String) async throws -> String {
            let browser = try await BrowserSIPUser(port: wsPort, username: user, password: password, group: group)
            var refusal = ""
            do {
                try await browser.register()
                XCTFail("\(user) registered with \(password)")
            } catch let failure as CallFailure {
                refusal = failure.description
            }
            await browser.close()
            return refusal
        }
        var failures = 0
        for round in 0..<4 {
            for _ in 0..<(round < 3 ? 3 : 1) {
                let refusal = try await refusedRegistration("1001", "guess-\(failures)")
                XCTAssertTrue(refusal.contains("403"), refusal)
                failures += 1
            }
            if round < 3 {
                let good = try await BrowserSIPUser(port: wsPort, username: "1002", password: "pw-1002", group: group)
                try await good.register()
                await good.close()
            }
        }
        XCTAssertEqual(failures, 10)
        let lockouts = logLines("authentication lockout", level: "notice")
        XCTAssertEqual(lockouts.map { $0["locked"] }, ["source"], daemon.stderr)
        XCTAssertEqual(lockouts.first?["source"], "127.0.0.1")
        XCTAssertEqual(lockouts.first?["seconds"], "60")
        // Locked: the right password is refused too, without being checked.
        let rightful = try await refusedRegistration("1001", "pw-1001")
        XCTAssertTrue(rightful.contains("403 Forbidden (too many failed attempts)"), rightful)
        XCTAssertEqual(logLines("authentication refused", level: "notice").last?["reason"], "locked_out", daemon.stderr)
    }

    // MARK: Floods

    /// 160k bad checks at a call's port once moved no counter. Now 2,000 checks with a wrong
    /// password from one address are counted, nearly all policed unread, while the browser's
    /// call (aiortc, through sipp's echo) keeps its audio.
    func testAFloodOfBadChecksAtACallsPortIsPolicedAndCountedWhileTheCallKeepsItsAudio() async throws {
        let trunkPort = LoopbackUDPSocket.freePort()
        try start(DaemonUnderTest.trunkAndUser(trunkPort: trunkPort))
        let trunk = try sipp(port: trunkPort)
        let peer = try InteropPeer(script: "aiortc_peer.py", arguments: ["--codecs", "PCMU", "--duration", "4", "--timeout", "25"],
                                   log: daemon.directory + "/aiortc-flood.log")
        let offer = try XCTUnwrap(try peer.next()["sdp"] as? String)
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        let call = try await browser.call("2000", offer: offer)
        let answer = String(decoding: call.answer.body, as: UTF8.self)
        try peer.send(["type": "answer", "sdp": answer])
        let mediaLine = try XCTUnwrap(answer.split(whereSeparator: \.isNewline).first { $0.hasPrefix("m=audio ") })
        let mediaPort = try XCTUnwrap(Int(mediaLine.split(separator: " ")[1]))

        let flooder = LoopbackUDPSocket()
        var generator = SystemRandomNumberGenerator()
        for index in 0..<2000 {
            let check = STUNMessage(type: .bindingRequest, transactionID: .random(using: &generator),
                                    attributes: [.username("guess:guess"), .priority(1), .iceControlling(1)])
            flooder.send(check.encode(integrityPassword: "not-the-password-at-all", fingerprint: true), toPort: mediaPort)
            if index % 20 == 19 { try await Task.sleep(for: .milliseconds(10)) }  // under 2,000 a second
        }
        try await Task.sleep(for: .seconds(1))
        let samples = try scrape().samples
        let policed = samples["tandem_media_dropped_total{reason=stun_policed}"] ?? 0
        let unauthenticated = samples["tandem_media_dropped_total{reason=stun_unauthenticated}"] ?? 0
        // Every check that reached the socket is counted; the kernel may drop a few of a burst
        // when the machine is busy (a socket buffer overflow, before Tandem sees them).
        let counted = policed + unauthenticated
        XCTAssertTrue((1960...2000).contains(counted), "every check is counted: \(samples.filter { $0.key.hasPrefix("tandem_media_dropped") })")
        XCTAssertGreaterThan(policed, 0.9 * counted, "most are policed before any HMAC")
        XCTAssertLessThanOrEqual(unauthenticated, 40 + 20 * 2, "one address gets its burst and its rate")

        let bye = try await browser.hangUp(call)
        XCTAssertEqual(bye.statusCode, 200)
        let result = try peer.next()
        XCTAssertEqual(result["connected"] as? Bool, true, "\(result)")
        XCTAssertGreaterThan(result["framesReceived"] as? Int ?? 0, 100, "the call kept its audio: \(result)")
        await browser.close()
        _ = exitStatus(trunk)
    }

    // MARK: Every outcome

    func testEveryOutcomeLeavesItsLogLineCDRAndSeriesAndTheShippedFilterRulesAndDashboardFitThem() async throws {
        let trunkPort = LoopbackUDPSocket.freePort()
        // Beside the trunk the calls go to, a supervised one that never answers (for trunk_up).
        try start(DaemonUnderTest.trunkAndUser(trunkPort: trunkPort).replacingOccurrences(of: "dial_plan:", with: """
              - {name: standby, address: 127.0.0.1, port: \(LoopbackUDPSocket.freePort()), transport: udp, allowed_sources: [127.0.0.2/32], options_interval: 1}
            dial_plan:
            """))
        let trunk = try sipp(port: trunkPort)

        let wrongPassword = try await failingCall("2000", password: "not-the-password")
        XCTAssertTrue(wrongPassword.contains("403"), wrongPassword)
        let unknownUser = try await failingCall("2000", user: "1999", password: "whatever")
        XCTAssertTrue(unknownUser.contains("403"), unknownUser)
        let unrouted = try await failingCall("7777")
        XCTAssertTrue(unrouted.contains("404"), unrouted)
        let answered = try await answeredCallHungUpByTheBrowser("2000")
        XCTAssertEqual(exitStatus(trunk), 0, "sipp got its BYE and ended cleanly")
        XCTAssertEqual(try daemon.ctl(["drain"]).status, 0)
        let drained = try await failingCall("2000")
        XCTAssertTrue(drained.contains("503"), drained)
        XCTAssertEqual(try daemon.ctl(["undrain"]).status, 0)

        // The log: refused credentials at notice with the address; calls at info, each line
        // with its call id.
        let refusedAuth = logLines("authentication refused", level: "notice")
        XCTAssertEqual(refusedAuth.map { $0["reason"] }, ["wrong_password", "unknown_user"], daemon.stderr)
        XCTAssertEqual(refusedAuth.map { $0["user"] }, ["1001", "1999"])
        XCTAssertEqual(refusedAuth.map { $0["source"] }, ["127.0.0.1", "127.0.0.1"])
        XCTAssertEqual(refusedAuth.map { $0["method"] }, ["INVITE", "INVITE"])
        let refused = logLines("call refused", level: "info")
        XCTAssertEqual(refused.map { $0["status"] }, ["403", "403", "404", "503"], daemon.stderr)
        XCTAssertEqual(refused[2]["callee"], "7777")
        XCTAssertEqual(refused[3]["reason"], "Service Unavailable (draining)")
        XCTAssertTrue(refused.allSatisfy { $0["call"]?.hasSuffix("@under-test") ?? false }, "\(refused)")
        let started = try XCTUnwrap(logLines("call started", level: "info").first, daemon.stderr)
        XCTAssertEqual(started["call"], answered)
        XCTAssertEqual(started["caller"], "1001")
        XCTAssertEqual(started["callee"], "2000")
        XCTAssertEqual(started["source"], "127.0.0.1")
        XCTAssertEqual(started["trunk"], "pbx")
        XCTAssertEqual(started["route"], "extensions")
        XCTAssertEqual(logLines("call answered", level: "info").first?["call"], answered)
        let ended = try XCTUnwrap(logLines("call ended", level: "info").first, daemon.stderr)
        XCTAssertEqual(ended["call"], answered)
        XCTAssertEqual(ended["by"], "web")
        XCTAssertEqual(ended["result"], "answered")
        XCTAssertEqual(ended["status"], "200")
        XCTAssertEqual(ended["trunk"], "pbx")
        XCTAssertNil(ended["cause"], "a hang-up has no media failure cause")
        XCTAssertGreaterThan(Double(ended["talk_seconds"] ?? "") ?? 0, 1.5)
        XCTAssertGreaterThanOrEqual(Double(ended["duration_seconds"] ?? "") ?? 0, Double(ended["talk_seconds"] ?? "") ?? 0)
        XCTAssertEqual(logLines("call ended", level: "info").count, 1, "refused attempts are not calls that ended")

        // The CDRs: every attempt, with its SIP status.
        let cdrs = try cdrLines(count: 5)
        XCTAssertEqual(cdrs.map { $0["result"] as? String }, ["403", "403", "404", "answered", "503"])
        XCTAssertEqual(cdrs.map { $0["sip_status"] as? Int }, [403, 403, 404, 200, 503])
        XCTAssertEqual(cdrs.map { $0["refused"] as? Bool }, [true, true, true, false, true])
        XCTAssertTrue(cdrs.allSatisfy { ($0["source"] as? String)?.hasPrefix("127.0.0.1:") ?? false }, "\(cdrs)")
        XCTAssertTrue(cdrs.allSatisfy { !(($0["sip_call_id"] as? String) ?? "").isEmpty }, "\(cdrs)")
        XCTAssertEqual(cdrs[3]["call_id"] as? String, answered)
        XCTAssertEqual(cdrs[3]["trunk"] as? String, "pbx")
        XCTAssertEqual(cdrs[3]["route"] as? String, "extensions")
        XCTAssertEqual(cdrs[3]["ended_by"] as? String, "web")
        XCTAssertTrue(cdrs.allSatisfy { $0["end_cause"] == nil }, "only media failures have a cause: \(cdrs)")
        XCTAssertEqual(cdrs[2]["callee"] as? String, "7777")

        // The metrics, exactly.
        let (text, metrics) = try scrape()
        let expected: [String: Double] = [
            "tandem_calls_total{result=403,trunk=}": 2, "tandem_calls_total{result=404,trunk=}": 1,
            "tandem_calls_total{result=503,trunk=}": 1, "tandem_calls_total{result=answered,trunk=pbx}": 1,
            "tandem_media_failures_total{cause=dtls_closed_by_peer}": 0,  // aiortc closed DTLS after its BYE: a hang-up
            "tandem_calls_active{}": 0, "tandem_trunk_calls_active{trunk=pbx}": 0,
            "tandem_sip_responses_total{code=401,direction=sent}": 4, "tandem_sip_responses_total{code=403,direction=sent}": 2,
            "tandem_sip_responses_total{code=404,direction=sent}": 1, "tandem_sip_responses_total{code=503,direction=sent}": 1,
            "tandem_sip_responses_total{code=200,direction=sent}": 2,  // the answer and the browser's BYE
            "tandem_sip_responses_total{code=200,direction=received}": 2,  // the trunk's answer and its 200 to our BYE
            "tandem_call_duration_seconds_count{trunk=pbx}": 1,
            "tandem_call_mos_count{leg=web,trunk=pbx}": 1, "tandem_call_mos_count{leg=trunk,trunk=pbx}": 1,
            "tandem_call_loss_ratio_count{leg=web,trunk=pbx}": 1, "tandem_call_loss_ratio_count{leg=trunk,trunk=pbx}": 1,
            "tandem_call_jitter_seconds_count{leg=web,trunk=pbx}": 1, "tandem_call_jitter_seconds_count{leg=trunk,trunk=pbx}": 1,
            "tandem_draining{}": 0, "tandem_trunk_up{trunk=standby}": 0,
        ]
        for (series, value) in expected.sorted(by: { $0.key < $1.key }) {
            XCTAssertEqual(metrics[series], value, series)
        }
        let failures = metrics.filter { $0.key.hasPrefix("tandem_media_failures_total{") }
        XCTAssertEqual(failures.count, 11, "every cause exported: \(failures)")
        XCTAssertEqual(failures.values.reduce(0, +), 0, "no media failure at all: \(failures)")
        XCTAssertGreaterThan(metrics["tandem_call_duration_seconds_sum{trunk=pbx}"] ?? 0, 1.5)
        XCTAssertGreaterThan(metrics["tandem_call_mos_sum{leg=web,trunk=pbx}"] ?? 0, 4, "a clean loopback call")
        XCTAssertEqual(metrics.filter { $0.key.hasPrefix("tandem_build_info{version=") }.values.first, 1)
        XCTAssertGreaterThan(metrics["process_resident_memory_bytes{}"] ?? 0, 1_000_000)
        XCTAssertGreaterThan(metrics["process_open_fds{}"] ?? 0, 5)
        XCTAssertGreaterThan(metrics["process_max_fds{}"] ?? 0, metrics["process_open_fds{}"] ?? .infinity)
        XCTAssertGreaterThan(metrics["process_cpu_seconds_total{}"] ?? 0, 0)
        XCTAssertEqual(metrics["process_start_time_seconds{}"] ?? 0, Date().timeIntervalSince1970, accuracy: 300)
        XCTAssertTrue(text.contains("# TYPE tandem_call_mos histogram"), text)

        try checkShippedFilterRulesAndDashboard(log: daemon.directory + "/stderr.log", metrics: daemon.directory + "/metrics.txt")
    }

    /// fail2ban's own regex tester finds exactly the two refused logins in the real log; promtool
    /// accepts the alert rules and their unit tests; every series the rules and the dashboard
    /// name is in the real scrape.
    private func checkShippedFilterRulesAndDashboard(log: String, metrics: String) throws {
        try requirePeer("/usr/bin/fail2ban-regex", "fail2ban-regex (Debian fail2ban)")
        try requirePeer("/usr/bin/promtool", "promtool (Debian prometheus)")
        let root = Binaries.packageRoot.path
        let regex = try runTool("/usr/bin/fail2ban-regex", [log, root + "/contrib/fail2ban/filter.d/tandem.conf"])
        XCTAssertEqual(regex.status, 0, regex.stdout + regex.stderr)
        XCTAssertTrue(regex.stdout.range(of: #"Lines: \d+ lines, \d+ ignored, 2 matched"#, options: .regularExpression) != nil, regex.stdout)
        XCTAssertTrue(regex.stdout.contains("127.0.0.1"), regex.stdout)

        let rules = try runTool("/usr/bin/promtool", ["check", "rules", root + "/contrib/prometheus/tandem-alerts.yml"])
        XCTAssertEqual(rules.status, 0, rules.stdout + rules.stderr)
        let unitTests = try runTool("/usr/bin/promtool", ["test", "rules", root + "/contrib/prometheus/tandem-alerts.test.yml"])
        XCTAssertEqual(unitTests.status, 0, unitTests.stdout + unitTests.stderr)

        let checker = InteropPeer.script("check_observability.py")
        let dashboard = try runTool(InteropPeer.python, [checker, "dashboard", "--metrics", metrics,
                                                         "--dashboard", root + "/contrib/grafana/tandem-dashboard.json"])
        XCTAssertEqual(dashboard.status, 0, dashboard.stdout + dashboard.stderr)
        let named = try runTool(InteropPeer.python, [checker, "rules", "--metrics", metrics, "--rules", root + "/contrib/prometheus/tandem-alerts.yml"])
        XCTAssertEqual(named.status, 0, named.stdout + named.stderr)
    }

    // MARK: Trunk availability

    func testATrunkThatStopsAnsweringGetsNoCallsAndTakesThemAgainOnceItAnswers() async throws {
        let deadPort = LoopbackUDPSocket.freePort()
        let pbxPort = LoopbackUDPSocket.freePort()
        try start("""
            trunks:
              - {name: flaky, address: 127.0.0.1, port: \(deadPort), transport: udp, allowed_sources: [127.0.0.1/32], options_interval: 1}
              - {name: pbx, address: 127.0.0.1, port: \(pbxPort), transport: udp, allowed_sources: [127.0.0.1/32], options_interval: 0}
            dial_plan:
              - {name: with-backup, match: '^(2\\d{3})$', trunks: [flaky, pbx]}
              - {name: flaky-only, match: '^(3\\d{3})$', trunk: flaky}
            users:
              - {username: "1001", password: pw-1001}

            """)
        // Nothing answers on the flaky trunk's port: down within a couple of seconds.
        XCTAssertTrue(waitForTrunk("flaky", "down", within: 8), (try? daemon.ctl(["trunks"]).stdout) ?? "")
        let down = try XCTUnwrap(logLines("trunk down", level: "notice").first, daemon.stderr)
        XCTAssertEqual(down["trunk"], "flaky")
        XCTAssertEqual(down["options"], "OPTIONS unanswered for 1 s")

        // A call only it could take: 503 at once, nothing sent its way.
        let started = Date()
        let refusal = try await failingCall("3000")
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertTrue(refusal.contains("503") && refusal.contains("flaky down"), refusal)
        XCTAssertLessThan(elapsed, 1, "the caller learns within a second (challenge included)")

        // A call whose rule has a backup: the next trunk answers.
        let trunk = try sipp(port: pbxPort)
        let id = try await answeredCallHungUpByTheBrowser("2000")
        XCTAssertEqual(exitStatus(trunk), 0, "the backup trunk took the call and got its BYE")
        let failover = try XCTUnwrap(logLines("trunk failover", level: "notice").first, daemon.stderr)
        XCTAssertEqual(failover["trunk"], "pbx")
        XCTAssertEqual(failover["passed_over"], "flaky down")
        XCTAssertEqual(logLines("call started", level: "info").first?["call"], id)
        XCTAssertEqual(logLines("call started", level: "info").first?["trunk"], "pbx")

        // The trunk answers OPTIONS again: up, and it is offered calls again.
        try sipp(port: deadPort, scenario: "options-uas.xml")
        XCTAssertTrue(waitForTrunk("flaky", "up", within: 5), (try? daemon.ctl(["trunks"]).stdout) ?? "")
        XCTAssertEqual(logLines("trunk up", level: "notice").first?["trunk"], "flaky")
        let (_, metrics) = try scrape()
        XCTAssertEqual(metrics["tandem_trunk_up{trunk=flaky}"], 1)
        XCTAssertEqual(metrics["tandem_calls_total{result=503,trunk=flaky}"], 1)
        XCTAssertEqual(metrics["tandem_calls_total{result=answered,trunk=pbx}"], 1)
    }

    /// Polls `tandemctl trunks --json` (a test may poll; the daemon does not).
    private func waitForTrunk(_ name: String, _ availability: String, within seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let result = try? daemon.ctl(["trunks", "--json"]),
                let trunks = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]],
                trunks.contains(where: { $0["name"] as? String == name && $0["availability"] as? String == availability }) {
                return true
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return false
    }
}
