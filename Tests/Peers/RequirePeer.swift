// A peer a test runs (sipp, Chromium, openssl, systemd-analyze, the interop virtual environment)
// that is missing fails the test, never skips it: `make test` installs every one of them
// (scripts/install-deps.sh test, scripts/install-interop.sh), so a missing peer is a broken
// machine or a broken install step, and CI must say so.

import Foundation
import TandemTestSupport
import XCTest

/// The error `requirePeer` throws after recording the failure; it stops the test (or its setUp).
public struct MissingPeer: Error, CustomStringConvertible {
    public let description: String
}

/// Records a failure and throws when no executable is at `path`: "`what` is missing at `path`;
/// make test installs it". `what` names the tool and the Debian package or script it comes from.
public func requirePeer(_ path: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
    try requirePeer(anyOf: [path], what, file: file, line: line)
}

/// As `requirePeer(_:_:)`, satisfied by an executable at any of `paths`.
public func requirePeer(anyOf paths: [String], _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
    guard !paths.contains(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return }
    let message = "\(what) is missing at \(paths.joined(separator: " or ")); make test installs it"
    XCTFail(message, file: file, line: line)
    throw MissingPeer(description: message)
}

extension InteropPeer {
    /// Fails the test unless the virtual environment and `script` (a file in Tests/Interop) are there.
    public static func require(_ script: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try requirePeer(python, "the interop environment (.venv, from scripts/install-interop.sh)", file: file, line: line)
        guard FileManager.default.fileExists(atPath: self.script(script)) else {
            let message = "the interop peer \(script) is missing at \(self.script(script))"
            XCTFail(message, file: file, line: line)
            throw MissingPeer(description: message)
        }
    }
}
