// The control protocol's JSON: snake_case keys in every result, the `recent_calls` command, and
// where tandemd and tandemctl look for the control socket when nobody names it.

import Control
import Foundation
import XCTest

/// Every JSON object key in `value`, at any depth, except those of objects under `dataKeys`
/// (maps whose keys are names, such as trunk_states).
func objectKeys(_ value: Any, skippingChildrenOf dataKeys: Set<String> = ["trunk_states", "libraries"]) -> [String] {
    if let object = value as? [String: Any] {
        return object.flatMap { key, child in [key] + (dataKeys.contains(key) ? [] : objectKeys(child, skippingChildrenOf: dataKeys)) }
    }
    if let array = value as? [Any] { return array.flatMap { objectKeys($0, skippingChildrenOf: dataKeys) } }
    return []
}

func isSnakeCase(_ key: String) -> Bool { !key.contains { $0.isUppercase } }

struct EveryResult: ControlCommandHandler {
    static let ended = RecentCall(
        id: "a1b2@node", from: "web", caller: "1001", callee: "2000", trunk: "pbx", startedAt: Date(timeIntervalSince1970: 1_800_000_000),
        endedAt: Date(timeIntervalSince1970: 1_800_000_004), durationSeconds: 4, talkSeconds: 0, result: "486", sipStatus: 486,
        endedBy: "trunk", endReason: "486 Busy Here")
    static let summary = CallSummary(id: "c3@node", ageSeconds: 2, from: "web", caller: "1001", callee: "2001", trunk: "pbx",
                                     state: "answered", webCodec: "opus/48000", trunkCodec: "PCMU/8000", media: "transcode", mos: 4.1)
    static let figures = StreamFigures(packets: 10, payloadBytes: 1600, lost: 0, lossFraction: 0, jitterMilliseconds: 1.5)

    func status() async -> StatusReport {
        var report = StatusReport.sample
        report.trunkStates = ["pbx": "up"]
        report.media = ["ports_in_use": 2]
        return report
    }
    func calls() async -> [CallSummary] { [Self.summary] }
    func call(_ id: String) async -> CallDetail? {
        CallDetail(summary: Self.summary, startedAt: Date(timeIntervalSince1970: 1_800_000_000), answeredAt: nil,
                   legs: [LegDetail(side: "web", local: "127.0.0.1:20000", remote: nil, codec: "opus", payloadType: 111,
                                    iceSelectedPair: "checking", dtlsRole: "server", srtpProfile: "SRTP_AES128_CM_SHA1_80",
                                    received: Self.figures, sent: Self.figures, roundTripMilliseconds: 3, mos: 4.2, dropped: ["srtp_auth": 0])],
                   bridge: ["relayed": 0])
    }
    func registrations() async -> [RegistrationInfo] { [RegistrationInfo(user: "1001", contact: "<sip:1001@x.invalid;transport=ws>", expiresInSeconds: 60)] }
    func trunks() async -> [TrunkInfo] {
        [TrunkInfo(name: "pbx", address: "127.0.0.1:5060", availability: "up", registration: "none", optionsRoundTripMilliseconds: 1.2,
                   activeCalls: 1, maxCalls: 0)]
    }
    func recentCalls(limit: Int) async -> [RecentCall] { Array(repeating: Self.ended, count: min(limit, 3)) }
}

final class ControlWireFormatTests: XCTestCase {
    private func wire(_ command: String, argument: String? = nil) async throws -> [String: Any] {
        let request = String(decoding: try ControlProtocol.encoder().encode(ControlRequest(command: command, argument: argument)), as: UTF8.self)
        let response = await EveryResult().respond(to: request)
        let data = try ControlProtocol.encoder().encode(response)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func testEveryResultUsesSnakeCaseKeys() async throws {
        for (command, argument) in [("status", nil), ("calls", nil), ("call", "c3"), ("registrations", nil), ("trunks", nil),
                                    ("recent_calls", "2"), ("drain", nil)] as [(String, String?)] {
            let json = try await wire(command, argument: argument)
            XCTAssertEqual(json["ok"] as? Bool, true, "\(command): \(json)")
            let keys = objectKeys(json)
            XCTAssertGreaterThanOrEqual(keys.count, 3, command)
            XCTAssertEqual(keys.filter { !isSnakeCase($0) }, [], "\(command): \(json)")
        }
        let statusJSON = try await wire("status")
        let status = try XCTUnwrap(statusJSON["status"] as? [String: Any])
        for key in ["active_calls", "config_generation", "uptime_seconds", "last_reload", "trunk_states", "control_socket"] {
            XCTAssertNotNil(status[key], "\(key) in \(status.keys.sorted())")
        }
        XCTAssertEqual((status["trunk_states"] as? [String: String])?["pbx"], "up", "map keys are data and left alone")
        XCTAssertEqual((status["media"] as? [String: Int])?["ports_in_use"], 2)
    }

    func testTheClientDecodesWhatTheServerEncodes() async throws {
        let line = String(decoding: try ControlProtocol.encoder().encode(ControlRequest(command: "call", argument: "c3")), as: UTF8.self)
        let encoded = try ControlProtocol.encoder().encode(await EveryResult().respond(to: line))
        let decoded = try ControlProtocol.decoder().decode(ControlResponse.self, from: encoded)
        let expected = await EveryResult().call("c3")
        XCTAssertEqual(decoded.call, expected)
        let response = await EveryResult().respond(to: #"{"version":1,"command":"status"}"#)
        let status = try ControlProtocol.decoder().decode(ControlResponse.self, from: try ControlProtocol.encoder().encode(response))
        let report = await EveryResult().status()
        XCTAssertEqual(status.status, report)
    }

    func testRecentCallsCarryResultStatusAndCause() async throws {
        let json = try await wire("recent_calls", argument: "2")
        let calls = try XCTUnwrap(json["recent_calls"] as? [[String: Any]])
        XCTAssertEqual(calls.count, 2, "the count asked for")
        XCTAssertEqual(calls[0]["result"] as? String, "486")
        XCTAssertEqual(calls[0]["sip_status"] as? Int, 486)
        XCTAssertEqual(calls[0]["ended_by"] as? String, "trunk")
        XCTAssertEqual(calls[0]["end_reason"] as? String, "486 Busy Here")
        XCTAssertEqual(calls[0]["started_at"] as? String, "2027-01-15T08:00:00Z")
        let allJSON = try await wire("recent_calls")
        let all = try XCTUnwrap(allJSON["recent_calls"] as? [Any])
        XCTAssertEqual(all.count, 3, "no count: as many as the daemon keeps")
        let bad = try await wire("recent_calls", argument: "many")
        XCTAssertEqual(bad["ok"] as? Bool, false)
        XCTAssertEqual(bad["error"] as? String, "'recent_calls' takes a positive count, not 'many'")
        let one = await EveryResult().recentCalls(limit: 1)
        let text = CallFormatter.recent(one)
        XCTAssertTrue(text.hasPrefix("CALL"), text)
        XCTAssertTrue(text.contains("486 Busy Here") && text.contains("trunk"), text)
        XCTAssertEqual(CallFormatter.recent([]), "no ended calls yet")
    }

    func testAnUnknownCommandListsTheKnownOnes() async throws {
        let json = try await wire("stauts")
        XCTAssertEqual(json["error"] as? String,
                       "unknown command 'stauts' (known: status, calls, call, hangup, registrations, trunks, recent_calls, drain, undrain, reload, trace)")
    }

    // MARK: Socket location

    func testUserSocketIsUnderXDGRuntimeDirOrTheCurrentDirectory() {
        XCTAssertEqual(ControlSocketLocation.userPath(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"], directory: "/home/a/tandem"),
                       "/run/user/1000/tandem/control.sock")
        XCTAssertEqual(ControlSocketLocation.userPath(environment: [:], directory: "/home/a/tandem"), "/home/a/tandem/.tandem/control.sock")
        XCTAssertEqual(ControlSocketLocation.userPath(environment: ["XDG_RUNTIME_DIR": ""], directory: "/w"), "/w/.tandem/control.sock")
    }

    func testTandemctlLooksInOrderAndTakesTheFirstThatExists() throws {
        let directory = NSTemporaryDirectory() + "tandem-where-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/tandem", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let environment = ["XDG_RUNTIME_DIR": directory, "TANDEM_CONTROL_SOCKET": directory + "/named.sock"]
        XCTAssertEqual(ControlSocketLocation.candidates(environment: environment), [
            directory + "/named.sock", "/run/tandem/control.sock", directory + "/tandem/control.sock", ".tandem/control.sock",
        ])
        let systemExists = FileManager.default.fileExists(atPath: ControlSocketLocation.systemPath)
        FileManager.default.createFile(atPath: directory + "/tandem/control.sock", contents: nil)
        XCTAssertEqual(ControlSocketLocation.lookup(environment: ["XDG_RUNTIME_DIR": directory]),
                       systemExists ? ControlSocketLocation.systemPath : directory + "/tandem/control.sock")
        FileManager.default.createFile(atPath: directory + "/named.sock", contents: nil)
        XCTAssertEqual(ControlSocketLocation.lookup(environment: environment), directory + "/named.sock")
        XCTAssertEqual(ControlSocketLocation.lookup(environment: ["TANDEM_CONTROL_SOCKET": directory + "/missing.sock"]),
                       systemExists ? ControlSocketLocation.systemPath : directory + "/missing.sock",
                       "nothing exists: the one asked for, named in the error")
    }

    func testCanCreateNeedsAWritableDirectoryOrAncestor() throws {
        let directory = NSTemporaryDirectory() + "tandem-mk-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer {
            chmod(directory, 0o755)
            try? FileManager.default.removeItem(atPath: directory)
        }
        XCTAssertTrue(ControlSocketLocation.canCreate(socketAt: directory + "/control.sock"))
        XCTAssertTrue(ControlSocketLocation.canCreate(socketAt: directory + "/a/b/control.sock"), "missing directories are made")
        chmod(directory, 0o555)
        if getuid() != 0 {  // root writes anywhere
            XCTAssertFalse(ControlSocketLocation.canCreate(socketAt: directory + "/control.sock"))
            XCTAssertFalse(ControlSocketLocation.canCreate(socketAt: directory + "/a/control.sock"))
        }
    }
}
