// Relayed calls end to end: the project's load generator plays both ends of two calls through a
// real tandemd (the browser end with ICE, DTLS and SRTP offering PCMU only; the trunk end with
// plain RTP), and the trunk end compares every payload it receives with the PCMU frames the
// browser end sent. A relay must hand them over byte for byte, with no loss.

import Foundation
import XCTest

final class RelayPayloadTests: XCTestCase {
    func testPCMUFromTheBrowserReachesTheTrunkByteForByte() throws {
        let generator = Binaries.directory + "/tandem-load"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: generator), "tandem-load is built with the tests")
        var environment = ProcessInfo.processInfo.environment
        environment.merge([
            "TANDEM_LOAD_CALLS": "2", "TANDEM_LOAD_SECONDS": "3", "TANDEM_LOAD_WARMUP": "1", "TANDEM_LOAD_MODES": "relayed",
            "TANDEM_LOAD_GATEWAYS": "tandem", "TANDEM_LOAD_OVERLOAD_MAX_LOAD": "0", "TANDEM_BIN_DIR": Binaries.directory,
        ]) { _, new in new }
        let result = try runTool(generator, [], environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(whereSeparator: \.isNewline).map(String.init)

        let payloads = try XCTUnwrap(lines.first { $0.contains("byte for byte as the browser sent it") }, result.stdout)
        let numbers = payloads.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        XCTAssertEqual(numbers.count, 2, payloads)
        // 2 calls x 50 packets/s x the 3 s window, and the half second after it.
        XCTAssertGreaterThanOrEqual(numbers.first ?? 0, 300, payloads)
        XCTAssertEqual(numbers.last, 0, "no payload changed: \(payloads)")

        // | tandem | relayed | 2 | CPU | kernel | loss to trunk | loss to browser | ...
        let row = try XCTUnwrap(lines.first { $0.hasPrefix("| tandem | relayed | 2 |") }, result.stdout)
        let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(cells[5], "0.000", "loss toward the trunk: \(row)")
        XCTAssertEqual(cells[6], "0.000", "loss toward the browser: \(row)")
    }
}
