// tandemctl against a running tandemd: every command answers --json with snake_case keys, a
// mistyped command is named and the commands listed, and `calls --recent` shows ended calls,
// refused ones included, with who ended them and why.

import Foundation
import NIOCore
import NIOPosix
import SIP
import TandemTestSupport
import XCTest

final class TandemctlTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!
    private var daemon: DaemonUnderTest!
    private var wsPort = 0

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let endpointPort = LoopbackUDPSocket.freePort()
        daemon = try DaemonUnderTest(extraConfig: DaemonUnderTest.testEndpointsAndUser(
            port: endpointPort, rtpPorts: 23200...23299, rules: ["{name: test-numbers, match: '^(busy|noanswer)$', trunk: test}"]))
        wsPort = try daemon.startReady()
    }

    override func tearDown() async throws {
        daemon?.send(SIGTERM)
        XCTAssertEqual(daemon?.waitForExit(timeout: 15), 0, daemon?.stderr.suffix(3000).description ?? "")
        try? await group?.shutdownGracefully()
    }

    /// Runs `tandemctl ARGUMENTS --json`, expecting success; returns the parsed output.
    private func json(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Any {
        let result = try daemon.ctl(arguments + ["--json"])
        XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)", file: file, line: line)
        let parsed = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        let camel = Self.keys(parsed).filter { $0.contains { $0.isUppercase } }
        XCTAssertEqual(camel, [], "\(arguments) --json has camelCase keys: \(result.stdout)", file: file, line: line)
        return parsed
    }

    /// Every object key at any depth, except under maps whose keys are names.
    static func keys(_ value: Any) -> [String] {
        if let object = value as? [String: Any] {
            return object.flatMap { key, child in [key] + (["trunk_states", "libraries"].contains(key) ? [] : keys(child)) }
        }
        if let array = value as? [Any] { return array.flatMap(keys) }
        return []
    }

    func testEveryCommandAnswersJSONWithSnakeCaseKeysAndRecentCallsKeepTheCause() async throws {
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        try await browser.register()
        // busy refuses with 486: an ended call that was never answered.
        do {
            _ = try await browser.call("busy", offer: SystemdStopTimeoutTests.offer)
            XCTFail("busy answered")
        } catch {
            XCTAssertTrue("\(error)".contains("486"), "\(error)")
        }
        // noanswer rings: a call in progress for calls, call and hangup.
        _ = try await browser.sendAuthenticatedInvite("noanswer", offer: SystemdStopTimeoutTests.offer, callID: "ctl-\(UInt32.random(in: 1...UInt32.max))")
        var ringing = false
        while !ringing {
            let response = try await browser.client.nextResponse(timeout: .seconds(10))
            guard response.isProvisional else { return XCTFail("\(response.statusCode) \(response.reason)\n\(daemon.stderr.suffix(2000))") }
            ringing = response.statusCode == 180
        }

        let status = try XCTUnwrap(try json(["status"]) as? [String: Any])
        XCTAssertEqual(status["active_calls"] as? Int, 1, "\(status)")
        let calls = try XCTUnwrap(try json(["calls"]) as? [[String: Any]])
        let id = try XCTUnwrap(calls.first?["id"] as? String, "\(calls)")
        XCTAssertNotNil(calls.first?["age_seconds"])
        let detail = try XCTUnwrap(try json(["call", id]) as? [String: Any])
        XCTAssertNotNil(detail["started_at"], "\(detail)")
        let registrations = try XCTUnwrap(try json(["registrations"]) as? [[String: Any]])
        XCTAssertNotNil(registrations.first?["expires_in_seconds"], "\(registrations)")
        let trunks = try XCTUnwrap(try json(["trunks"]) as? [[String: Any]])
        XCTAssertNotNil(trunks.first?["active_calls"], "\(trunks)")
        for command in ["drain", "undrain", "reload"] {
            XCTAssertNotNil((try json([command]) as? [String: Any])?["message"], command)
        }
        XCTAssertNotNil((try json(["hangup", id]) as? [String: Any])?["message"])

        // Both calls are now in the recent list, newest first, each with how it ended.
        var recent: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(10)
        while recent.count < 2 && Date() < deadline {
            recent = try XCTUnwrap(try json(["calls", "--recent"]) as? [[String: Any]])
            if recent.count < 2 { try await Task.sleep(for: .milliseconds(100)) }
        }
        XCTAssertEqual(recent.count, 2, "\(recent)")
        guard recent.count == 2 else { return }
        XCTAssertEqual(recent[0]["id"] as? String, id)
        XCTAssertEqual(recent[0]["ended_by"] as? String, "operator", "\(recent[0])")
        XCTAssertEqual(recent[0]["callee"] as? String, "noanswer")
        XCTAssertEqual(recent[0]["trunk"] as? String, "test")
        XCTAssertEqual(recent[1]["callee"] as? String, "busy")
        XCTAssertEqual(recent[1]["result"] as? String, "486", "\(recent[1])")
        XCTAssertEqual(recent[1]["sip_status"] as? Int, 486)
        XCTAssertEqual(recent[1]["end_reason"] as? String, "486 Busy Here")
        XCTAssertEqual(recent[1]["talk_seconds"] as? Double, 0)
        XCTAssertNotNil(recent[1]["duration_seconds"] as? Double)
        let one = try XCTUnwrap(try json(["calls", "--recent", "--limit", "1"]) as? [[String: Any]])
        XCTAssertEqual(one.count, 1)
        let text = try daemon.ctl(["calls", "--recent"])
        XCTAssertTrue(text.stdout.contains("486 Busy Here") && text.stdout.contains("operator"), text.stdout)
        await browser.close()
    }

    func testAMistypedCommandIsNamedWithTheCommandsListed() throws {
        let result = try daemon.ctl(["stauts"])
        XCTAssertEqual(result.status, 64)
        XCTAssertEqual(result.stdout, "")
        XCTAssertTrue(result.stderr.contains("unknown command 'stauts'"), result.stderr)
        XCTAssertTrue(result.stderr.contains("status, calls, call, hangup, registrations, trunks, drain, undrain, reload"), result.stderr)
        XCTAssertFalse(result.stderr.contains("USAGE"), "not the usage of the default status command: \(result.stderr)")
        // The default command still runs with options only.
        XCTAssertEqual(try daemon.ctl(["--json"]).status, 0)
    }
}
