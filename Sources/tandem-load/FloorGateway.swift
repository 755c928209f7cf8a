// tandem-floor (bench/floor/floor.c, built by `make bench`) under the same load: a minimal C
// relay doing a relayed call's work (ICE-lite, DTLS server, SRTP AES-GCM, epoll + recvmmsg +
// sendmmsg) and nothing more, so the comparison shows how far Tandem is from the floor as well
// as from rtpengine. It is driven over its stdin and stdout, one line each way per command:
// `call <id> <ufrag> <pwd> <sha-256 fingerprint> <trunk port>` answers `ok <id> <ufrag> <pwd>
// <fingerprint> <browser port> <trunk port>`; `hangup <id>` and `quit` end calls and the process.
// It relays only: it runs in relayed mode alone.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

final class FloorGateway {
    let process = Process()
    private let commands = Pipe()
    private let replies = Pipe()
    private let logPath: String
    private var unread: [UInt8] = []
    private var callIDs: [String] = []

    /// Where `make bench` puts the binary: beside tandem-load.
    static func binary(in directory: String) -> String { directory + "/tandem-floor" }

    /// Fails at once if the binary is missing, so a run never goes on without its floor.
    static func checkBinary(_ binary: String) throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw LoadError("\(binary) is missing: `make bench` builds it (cc -O2 -o \(binary) bench/floor/floor.c -lssl -lcrypto)")
        }
    }

    init(binary: String) throws {
        try Self.checkBinary(binary)
        // A write to the pipe of a floor that died must fail, not kill the generator.
        signal(SIGPIPE, SIG_IGN)
        logPath = NSTemporaryDirectory() + "tandem-floor-load-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        process.standardInput = commands
        process.standardOutput = replies
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The floor makes its certificate, then says `ready <fingerprint>`.
    func waitUntilReady() throws {
        let line = try readLine(timeout: 20)
        guard line.hasPrefix("ready ") else { throw LoadError("tandem-floor did not start: \(line) \(log.suffix(2000))") }
    }

    private func send(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(commands.fileHandleForWriting.fileDescriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw LoadError("tandem-floor: cannot send \(line.prefix(20))…: errno \(errno) \(log.suffix(2000))") }
    }

    /// One command and its reply's words; a reply other than `ok ...` is an error.
    private func request(_ line: String) throws -> [Substring] {
        try send(line)
        let reply = try readLine(timeout: 10)
        let words = reply.split(separator: " ")
        guard words.first == "ok" else { throw LoadError("tandem-floor: \(line.split(separator: " ").first ?? ""): \(reply)") }
        return words
    }

    /// A line from the floor's stdout, waiting at most `timeout` seconds.
    private func readLine(timeout: TimeInterval) throws -> String {
        let fd = replies.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = unread.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: unread[..<newline], as: UTF8.self)
                unread.removeSubrange(...newline)
                return line
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw LoadError("tandem-floor does not answer \(log.suffix(2000))") }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(min(left, 1) * 1000)) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { throw LoadError("tandem-floor exited: \(log.suffix(2000))") }
            unread += buffer[0..<count]
        }
    }

    /// Sets the call up on the floor; the trunk end sends to the floor's trunk port. Returns the
    /// browser's answer: ICE-lite, DTLS passive (the floor is the DTLS server), PCMU.
    func place(_ call: LoadCall) throws -> String {
        let id = "load-\(call.index)"
        let fingerprint = call.certificate.fingerprint(.sha256).value
        let words = try request("call \(id) \(call.localUfrag) \(call.localPassword) \(fingerprint) \(call.trunk.port)")
        guard words.count == 7, let browserPort = UInt16(words[5]), let trunkPort = UInt16(words[6]) else {
            throw LoadError("tandem-floor: unexpected reply: \(words.joined(separator: " "))")
        }
        call.trunkRemote = loopbackAddress(port: trunkPort)
        callIDs.append(id)
        return "v=0\r\no=tandem-floor \(call.index + 1) 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n"
            + "m=audio \(browserPort) UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 127.0.0.1\r\n"
            + "a=candidate:1 1 udp 2130706431 127.0.0.1 \(browserPort) typ host\r\n"
            + "a=ice-ufrag:\(words[2])\r\na=ice-pwd:\(words[3])\r\na=fingerprint:sha-256 \(words[4])\r\n"
            + "a=setup:passive\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n"
    }

    func hangUpAll() {
        for id in callIDs { _ = try? request("hangup \(id)") }
        callIDs.removeAll()
    }

    func shutdown() {
        if process.isRunning {
            try? send("quit")
            try? commands.fileHandleForWriting.close()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: logPath)
    }
}
