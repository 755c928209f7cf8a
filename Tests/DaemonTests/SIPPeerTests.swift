// tandemd against sipp, a real SIP peer: OPTIONS answered, REGISTER challenged then accepted.

import Foundation
import TandemTestPeers
import TandemTestSupport
import XCTest

final class SIPPeerTests: XCTestCase {
    private static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scenarios")

    private func sipp(_ scenario: String, port: Int, calls: Int = 1, extra: [String] = [], in directory: String) throws -> ToolResult {
        try requirePeer("/usr/bin/sipp", "sipp (Debian sip-tester)")
        return try runTool("/usr/bin/sipp", [
            "-sf", Self.scenarios.appendingPathComponent(scenario).path, "127.0.0.1:\(port)", "-i", "127.0.0.1", "-p", "0",
            "-m", String(calls), "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err",
            "-error_file", directory + "/sipp-errors.log",
        ] + extra)
    }

    func testOptionsAndAuthenticatedRegister() throws {
        let daemon = try DaemonUnderTest(extraConfig: """
            users:
              - username: "1001"
                password: pw-1001

            """)
        try daemon.start()
        XCTAssertNotNil(daemon.notify.waitFor("READY=1"), daemon.stderr)
        let udpPort = try XCTUnwrap(try daemon.status().listeners.first { $0.transport == "udp" }?.port)

        let options = try sipp("options.xml", port: udpPort, calls: 3, in: daemon.directory)
        XCTAssertEqual(options.status, 0, "sipp OPTIONS failed: \(options.stdout.suffix(600))")

        let register = try sipp("register.xml", port: udpPort, extra: ["-au", "1001", "-ap", "pw-1001"], in: daemon.directory)
        XCTAssertEqual(register.status, 0, "sipp REGISTER failed: \(register.stdout.suffix(600))")
        XCTAssertEqual(try daemon.status().registrations, 1)

        // The wrong password is refused and nothing is registered for it.
        let refused = try sipp("register.xml", port: udpPort, extra: ["-au", "1001", "-ap", "wrong"], in: daemon.directory)
        XCTAssertNotEqual(refused.status, 0, "a wrong password must not register")

        daemon.send(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(timeout: 10), 0, daemon.stderr)
    }
}
