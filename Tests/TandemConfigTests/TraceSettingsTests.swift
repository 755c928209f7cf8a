// The `trace` section: off by default, every key typed, and clear errors with file and line.

import Foundation
import XCTest

@testable import TandemConfig

final class TraceSettingsTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    private var mainPath: String { (directory.path as NSString).appendingPathComponent("tandem.yaml") }

    private func load(_ main: String) throws -> LoadedConfiguration {
        try ConfigurationLoader().load(path: try directory.write("tandem.yaml", main))
    }

    private func errors(_ main: String) throws -> [String] {
        do {
            _ = try load(main)
            XCTFail("expected the configuration to be rejected")
            return []
        } catch let error as ConfigurationError {
            return error.errors.map(\.description)
        }
    }

    func testTraceIsOffWithoutTheSection() throws {
        XCTAssertEqual(try load("node: a\n").configuration.trace, TraceSettings())
        XCTAssertFalse(TraceSettings().enabled)
        XCTAssertTrue(TraceSettings().log)
    }

    func testEveryKeyIsRead() throws {
        let trace = try load("""
            trace:
              enabled: true
              call_id: abc@host
              user: "1001"
              log: false
              hep: {address: "::1", port: 9061, capture_id: 77, password: s3cret}

            """).configuration.trace
        XCTAssertEqual(trace, TraceSettings(
            enabled: true, callID: "abc@host", user: "1001", log: false,
            hep: HEPSettings(address: "::1", port: 9061, captureID: 77, password: "s3cret", location: SourceLocation(file: "", line: 0, key: ""))))
        let defaults = try XCTUnwrap(try load("trace:\n  hep: {address: 127.0.0.1}\n").configuration.trace.hep)
        XCTAssertEqual(defaults.port, 9060)
        XCTAssertEqual(defaults.captureID, 2001)
        XCTAssertNil(defaults.password)
    }

    func testBadValuesGetClearErrors() throws {
        XCTAssertEqual(try errors("trace:\n  enabled: maybe\n  hep:\n    address: homer.example\n    port: 70000\n    capture_id: -1\n"), [
            "\(mainPath):2: trace.enabled: expected true or false, found 'maybe'",
            "\(mainPath):4: trace.hep.address: expected an IP address such as 127.0.0.1 or ::1, found 'homer.example'",
            "\(mainPath):5: trace.hep.port: 70000 is out of range (1...65535)",
            "\(mainPath):6: trace.hep.capture_id: -1 is out of range (0...4294967295)",
        ])
        XCTAssertEqual(try errors("trace:\n  hep: {port: 9060}\n"), ["\(mainPath):2: trace.hep.address: is required"])
        XCTAssertEqual(try errors("trace:\n  user: \"\"\n"), ["\(mainPath):2: trace.user: must not be empty (leave it out to trace every message)"])
        XCTAssertEqual(try errors("trace:\n  hep: {address: 127.0.0.1, pasword: x}\n"),
                       ["\(mainPath):2: trace.hep.pasword: unknown key (did you mean 'password'?)"])
    }

    func testATraceThatGoesNowhereIsAWarning() throws {
        let loaded = try load("trace:\n  enabled: true\n  log: false\n")
        XCTAssertTrue(loaded.warnings.map(\.description).contains { $0.contains("trace.log") && $0.contains("goes nowhere") }, "\(loaded.warnings)")
    }

    func testShippedConfigurationHasTheTraceOff() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try ConfigurationLoader().load(path: root.appendingPathComponent("config/tandem.yaml").path).configuration
        XCTAssertFalse(config.trace.enabled)
    }
}
