import Foundation
import XCTest

/// Guards the RFC 4475 fixtures themselves (not the parser): the table and the directory agree,
/// each file looks like a SIP message, and the valid messages' bodies are as long as declared.
final class TortureFixturesTests: XCTestCase {
    /// Valid messages whose datagram deliberately carries octets past the declared body
    /// (RFC 4475 §3.1.1.8: the receiver must ignore them).
    private static let trailingOctets: Set<String> = ["dblreq"]

    func testTableHasFortyNineUniqueCases() {
        XCTAssertEqual(tortureCases.count, 49, "RFC 4475 §3 has 49 messages")
        XCTAssertEqual(Set(tortureCases.map(\.name)).count, tortureCases.count, "duplicate case name")
        XCTAssertEqual(Set(tortureCases.map(\.section)).count, tortureCases.count, "duplicate section")
        for testCase in tortureCases {
            XCTAssertFalse(testCase.note.isEmpty, "\(testCase.name) has no note")
            XCTAssertFalse(testCase.note.contains("\n"), "\(testCase.name) note spans lines")
        }
        // Every message of §3.1.1 is valid.
        for testCase in tortureCases where testCase.section.hasPrefix("3.1.1.") {
            XCTAssertEqual(testCase.expectation, .parses, testCase.name)
        }
    }

    func testEveryCaseHasAFixture() {
        for testCase in tortureCases {
            let path = tortureDirectory.appendingPathComponent("\(testCase.name).dat").path
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), "missing Torture/\(testCase.name).dat")
        }
    }

    func testEveryFixtureHasACase() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: tortureDirectory.path)
            .filter { $0.hasSuffix(".dat") }
        let known = Set(tortureCases.map { "\($0.name).dat" })
        XCTAssertEqual(files.count, tortureCases.count)
        for file in files {
            XCTAssertTrue(known.contains(file), "Torture/\(file) has no entry in tortureCases")
        }
    }

    func testFixturesAreNonEmptyAndStartWithAStartLine() {
        for testCase in tortureCases {
            let bytes = tortureBytes(testCase.name)
            XCTAssertFalse(bytes.isEmpty, "\(testCase.name).dat is empty or unreadable")
            guard let end = bytes.firstRange(of: crlf) else {
                XCTFail("\(testCase.name): no CRLF after the start line")
                continue
            }
            let line = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
            XCTAssertTrue(
                isStatusLine(line) || isRequestLine(line),
                "\(testCase.name): not a request or status line: \(line)")
        }
    }

    func testDeclaredContentLengthMatchesBody() {
        for testCase in tortureCases {
            let framing = Framing(tortureBytes(testCase.name))
            guard !framing.contentLengths.isEmpty else { continue }  // inv2543 has none
            let declared = framing.contentLengths.count == 1 ? Int(framing.contentLengths[0]) : nil
            let matches = declared == framing.body.count
            guard testCase.expectation == .parses else {
                // Some invalid messages lie about their length on purpose: report only.
                if !matches {
                    print(
                        "torture \(testCase.name) (\(testCase.expectation)): Content-Length \(framing.contentLengths)"
                            + " vs \(framing.body.count) body octets")
                }
                continue
            }
            XCTAssertEqual(framing.contentLengths.count, 1, "\(testCase.name): one Content-Length expected")
            guard let declared else {
                XCTFail("\(testCase.name): Content-Length is not a number: \(framing.contentLengths)")
                continue
            }
            if Self.trailingOctets.contains(testCase.name) {
                XCTAssertGreaterThan(framing.body.count, declared, "\(testCase.name): trailing octets expected")
            } else {
                XCTAssertEqual(framing.body.count, declared, "\(testCase.name): body length differs from Content-Length")
            }
        }
    }

    func testValidMessagesEndHeadersWithAnEmptyLine() {
        for testCase in tortureCases where testCase.expectation == .parses {
            XCTAssertNotNil(
                tortureBytes(testCase.name).firstRange(of: crlf + crlf),
                "\(testCase.name): no empty line after the headers")
        }
    }
}

private let crlf: [UInt8] = [0x0D, 0x0A]

private func isVersion(_ token: Substring) -> Bool {
    guard token.hasPrefix("SIP/") else { return false }
    let parts = token.dropFirst(4).split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
}

/// `SIP/x.y <digits> [reason]`; the code's range is not checked here.
private func isStatusLine(_ line: String) -> Bool {
    let tokens = line.split(separator: " ")
    return tokens.count >= 2 && line.hasPrefix("SIP/") && isVersion(tokens[0])
        && tokens[1].allSatisfy { $0.isASCII && $0.isNumber }
}

/// `<method> <uri...> SIP/x.y`, tolerating the extra spaces some invalid messages carry.
private func isRequestLine(_ line: String) -> Bool {
    let tokens = line.split(separator: " ")
    guard let first = line.first, first != " ", first != "\t", tokens.count >= 3, let last = tokens.last else {
        return false
    }
    return isVersion(last)
}

/// The header section (unfolded) and body of a fixture, split at the first empty line.
private struct Framing {
    /// Raw values of every Content-Length (or compact `l`) header, in order.
    var contentLengths: [String] = []
    var body: ArraySlice<UInt8> = []

    init(_ bytes: [UInt8]) {
        let headerEnd: Int
        if let separator = bytes.firstRange(of: crlf + crlf) {
            headerEnd = separator.lowerBound
            body = bytes[separator.upperBound...]
        } else {
            headerEnd = bytes.count
        }
        let head = String(decoding: bytes[..<headerEnd], as: UTF8.self)
        var lines: [String] = []
        for line in head.components(separatedBy: "\r\n") {
            if let first = line.first, first == " " || first == "\t", !lines.isEmpty {
                lines[lines.count - 1] += line
            } else {
                lines.append(line)
            }
        }
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            if name == "content-length" || name == "l" {
                contentLengths.append(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
        }
    }
}
