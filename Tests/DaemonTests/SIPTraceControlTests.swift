// tandemctl trace against a running tandemd: off by default, on with a filter, kept across a
// reload that leaves the trace section alone, replaced by a reload that changes it, refused
// clearly when the arguments do not fit.

import Foundation
import XCTest

final class SIPTraceControlTests: XCTestCase {
    private func state(_ daemon: DaemonUnderTest, _ arguments: [String] = []) throws -> [String: Any] {
        let result = try daemon.ctl(["trace"] + arguments + ["--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
    }

    func testTraceSwitchesAtRunTimeAndAReloadAppliesAChangedSection() throws {
        let daemon = try DaemonUnderTest()
        try daemon.start()
        defer {
            if daemon.isRunning {
                daemon.send(SIGTERM)
                _ = daemon.waitForExit(timeout: 15)
            }
        }
        XCTAssertNotNil(daemon.notify.waitFor("READY=1"), daemon.stderr)

        var shown = try state(daemon)
        XCTAssertEqual(shown["enabled"] as? Bool, false)
        XCTAssertNil(shown["hep"])

        shown = try state(daemon, ["on", "--user", "1001"])
        XCTAssertEqual(shown["enabled"] as? Bool, true)
        XCTAssertEqual(shown["user"] as? String, "1001")
        let text = try daemon.ctl(["trace"])
        XCTAssertTrue(text.stdout.contains("SIP trace: on") && text.stdout.contains("filter:    user 1001"), text.stdout)

        // A reload with the trace section unchanged keeps what the operator set.
        let reloaded = try daemon.ctl(["reload"])
        XCTAssertEqual(reloaded.status, 0, reloaded.stderr)
        XCTAssertEqual(try state(daemon)["user"] as? String, "1001")

        // A changed section replaces it.
        let base = DaemonUnderTest.config(node: "under-test", drainTimeout: "5s", controlSocket: daemon.controlSocket)
        try daemon.write(config: base + "trace:\n  enabled: false\n  hep: {address: 127.0.0.1, port: 9999, capture_id: 7}\n")
        XCTAssertEqual(try daemon.ctl(["reload"]).status, 0)
        shown = try state(daemon)
        XCTAssertEqual(shown["enabled"] as? Bool, false)
        XCTAssertNil(shown["user"])
        XCTAssertEqual(shown["hep"] as? String, "127.0.0.1:9999")
        XCTAssertEqual(shown["capture_id"] as? Int, 7)

        let wrong = try daemon.ctl(["trace", "off", "--call", "x"])
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.contains("--call and --user go with 'trace on'"), wrong.stderr)
        XCTAssertTrue(daemon.stderr.contains("SIP trace on by operator request"), daemon.stderr)

        daemon.send(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(timeout: 15), 0, daemon.stderr.suffix(2000).description)
    }
}
