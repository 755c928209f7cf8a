// A WebRTC peer process from Tests/Interop (aiortc or headless Chromium), run with the project's
// virtual environment and driven by JSON lines on its stdin and stdout: it prints its offer,
// reads the answer, connects, and prints a result line (see Tests/Interop/peer_protocol.py).

import Foundation

public final class InteropPeer {
    /// The repository's root (three levels above this file).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static var python: String { root.appendingPathComponent(".venv/bin/python").path }
    public static func script(_ name: String) -> String { root.appendingPathComponent("Tests/Interop/\(name)").path }

    public let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer = Data()

    /// Starts `script` (a file name in Tests/Interop) with `arguments`; its stderr goes to `log`.
    public init(script: String, arguments: [String], log: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.script(script)] + arguments
        process.standardInput = input
        process.standardOutput = output
        if let log {
            FileManager.default.createFile(atPath: log, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
    }

    public func send(_ object: [String: String]) throws {
        var data = try JSONSerialization.data(withJSONObject: object)
        data.append(UInt8(ascii: "\n"))
        input.fileHandleForWriting.write(data)
    }

    /// The next JSON line from the peer (blocking).
    public func next() throws -> [String: Any] {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[(newline + 1)...])
                if let object = try JSONSerialization.jsonObject(with: line) as? [String: Any] { return object }
                continue
            }
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else {
                throw NSError(domain: "InteropPeer", code: 1, userInfo: [NSLocalizedDescriptionKey: "the peer closed its output"])
            }
            buffer.append(chunk)
        }
    }

    /// Pauses or resumes the peer (SIGSTOP/SIGCONT): a peer that stops sending consent checks.
    public func suspend() { kill(process.processIdentifier, SIGSTOP) }
    public func resume() { kill(process.processIdentifier, SIGCONT) }

    deinit {
        if process.isRunning {
            resume()
            process.terminate()
        }
    }
}
