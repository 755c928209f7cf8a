// The SIP trace, checked the way an operator would use it: sngrep listens for HEP, tandemd runs
// with the trace on and HEP pointed at sngrep, JsSIP 3.10.10 in headless Chromium makes one whole
// call through tandemd to a sipp trunk (the library matrix's driver, its register and
// outbound-transcoded steps only), and the pcap sngrep writes must hold the ladder of both legs:
// the browser's INVITE (challenged and sent again when the gateway asks), 180/200, ACK, BYE, 200
// over the WebSocket listener, and the trunk leg's INVITE, 180/200, ACK, BYE, 200 over UDP, each
// leg with its own Call-ID, the right direction and addresses.
//
// Everything runs in a network namespace holding only loopback (the matrix's setup). sngrep is
// bounded by timeout(1) and stopped with SIGTERM by the test, so it writes and closes the pcap.

import Foundation
import TandemTestPeers
import TandemTestSupport
import XCTest

final class SIPTraceCaptureTests: XCTestCase {
    static let hepPort = 9060
    static let trunkPort = 5070

    func testBrowserCallLadderIsInSngrepsHEPCapture() throws {
        guard getuid() == 0 else {
            XCTFail("the capture test makes a network namespace and needs root (make test runs as root)")
            return
        }
        try requirePeer("/usr/bin/sngrep", "sngrep (Debian sngrep)")
        try requirePeer("/usr/bin/sipp", "sipp (Debian sip-tester)")
        try requirePeer("/usr/bin/unshare", "unshare (util-linux)")
        try requirePeer("/usr/bin/nsenter", "nsenter (util-linux)")
        try requirePeer("/usr/bin/timeout", "timeout (coreutils)")
        try requirePeer("/usr/bin/ss", "ss (Debian iproute2)")
        try requirePeer("/usr/lib/chromium/chromium", "Chromium (Debian chromium)")
        try InteropPeer.require("library_matrix.py")
        let vendor = LibraryMatrixTests.vendorDirectory
        guard FileManager.default.fileExists(atPath: vendor + "/jssip-3.10.10.js") else {
            return XCTFail("jssip-3.10.10.js is missing in \(vendor) (the vendor directory; set TANDEM_VENDOR_DIR)")
        }

        let directory = NSTemporaryDirectory() + "tandem-trace-\(UUID().uuidString.prefix(6))"
        let (config, password) = try DaemonUnderTest.shippedConfiguration(in: directory, trunkPort: Self.trunkPort, profile: "trace-pbx",
                                                                         by: "SIPTraceCaptureTests")
        var main = try String(contentsOfFile: config + "/tandem.yaml", encoding: .utf8)
        main += """

            # Added by SIPTraceCaptureTests: the trace on, HEP to sngrep.
            trace:
              enabled: true
              log: true
              hep: {address: 127.0.0.1, port: \(Self.hepPort), capture_id: 2001}

            """
        try main.write(toFile: config + "/tandem.yaml", atomically: true, encoding: .utf8)
        let daemon = try DaemonUnderTest(directory: directory, configPath: config + "/tandem.yaml")
        try daemon.start(arguments: ["--control-socket", daemon.controlSocket],
                         wrapper: ["/usr/bin/unshare", "-n", "/bin/sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        defer {
            if daemon.isRunning {
                daemon.send(SIGTERM)
                _ = daemon.waitForExit(timeout: 15)
            }
        }
        XCTAssertNotNil(daemon.notify.waitFor("READY=1"), daemon.stderr)
        let namespace = "--net=/proc/\(daemon.pid)/ns/net"

        // sngrep in the daemon's namespace, bounded to four minutes whatever happens.
        let pcap = directory + "/capture.pcap"
        let sngrep = Process()
        sngrep.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        sngrep.arguments = [namespace, "/usr/bin/timeout", "-k", "5", "-s", "TERM", "240", "/usr/bin/sngrep", "-N", "-q", "-F",
                            "-L", "udp:127.0.0.1:\(Self.hepPort)", "-O", pcap]
        sngrep.standardOutput = FileHandle.nullDevice
        sngrep.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/sngrep.log").creatingEmpty())
        try sngrep.run()
        defer {
            // timeout(1) passes SIGTERM on to sngrep; SIGKILL only if neither has gone in 5 s.
            if sngrep.isRunning {
                kill(sngrep.processIdentifier, SIGTERM)
                let deadline = Date().addingTimeInterval(5)
                while sngrep.isRunning && Date() < deadline { usleep(50_000) }
                if sngrep.isRunning { kill(sngrep.processIdentifier, SIGKILL) }
                sngrep.waitUntilExit()
            }
        }
        var listening = false
        for _ in 0..<100 where !listening {
            let sockets = try runTool("/usr/bin/nsenter", [namespace, "/usr/bin/ss", "-Hlun", "sport = :\(Self.hepPort)"])
            listening = sockets.stdout.contains(":\(Self.hepPort)")
            if !listening { usleep(100_000) }
        }
        XCTAssertTrue(listening, "sngrep listens for HEP on \(Self.hepPort): " + ((try? String(contentsOfFile: directory + "/sngrep.log", encoding: .utf8)) ?? ""))

        let command = [
            "/usr/bin/nsenter", namespace, InteropPeer.python, InteropPeer.script("library_matrix.py"),
            "--library", "jssip", "--browser", "chromium", "--vendor", vendor,
            "--ws-url", "ws://127.0.0.1:8080", "--ws-port", "8080",
            "--user", "1001", "--password", password, "--number", "3000",
            "--sip-port", "5060", "--trunk-port", String(Self.trunkPort), "--uac-port", "5071",
            "--media-port", "40000", "--sipp-media-port", "40010",
            "--scenarios", Binaries.packageRoot.appendingPathComponent("Tests/DaemonTests/Scenarios").path,
            "--tandemctl", Binaries.tandemctl, "--control-socket", daemon.controlSocket, "--work", directory,
            "--only", "outbound_transcoded", "--timeout", "120",
        ]
        let run = try runTool(command[0], Array(command.dropFirst()))
        let logs = { "driver:\n\(run.stderr.suffix(3000))\ntandemd:\n\(daemon.stderr.suffix(3000))" }
        let line = try XCTUnwrap(run.stdout.split(separator: "\n").last, logs())
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], logs())
        let cells = result["cells"] as? [String: [String: Any]] ?? [:]
        for name in ["register", "outbound-transcoded"] {
            XCTAssertEqual(cells[name]?["passed"] as? Bool, true, "\(name): \(cells[name] ?? [:])\n\(logs())")
        }

        // tandemctl trace: on, every message traced and sent as HEP, none dropped.
        let shown = try daemon.ctl(["trace", "--json"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        let state = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any], shown.stdout)
        XCTAssertEqual(state["enabled"] as? Bool, true)
        XCTAssertEqual(state["hep"] as? String, "127.0.0.1:\(Self.hepPort)")
        XCTAssertGreaterThan(state["traced"] as? Int ?? 0, 10, "\(state)")
        XCTAssertEqual(state["hep_sent"] as? Int, state["traced"] as? Int, "\(state)")
        XCTAssertEqual(state["hep_dropped"] as? Int, 0, "\(state)")

        // sngrep stops on SIGTERM (through timeout) and closes the pcap.
        kill(sngrep.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while sngrep.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(sngrep.isRunning, "sngrep stopped on SIGTERM")

        let messages = try Self.sipMessages(inPcap: pcap)
        let ladder = messages.map { "\($0.source) -> \($0.destination) \($0.firstLine) [\($0.cseq)] \($0.callID)" }.joined(separator: "\n")

        // The browser leg: requests to the WebSocket listener, responses from it.
        let browserInvite = try XCTUnwrap(messages.first { $0.firstLine.hasPrefix("INVITE ") && $0.destinationPort == 8080 },
                                          "no INVITE to the WebSocket listener in the capture:\n\(ladder)")
        let browserLeg = messages.filter { $0.callID == browserInvite.callID }
        for message in browserLeg {
            let toTandem = message.destination == "127.0.0.1:8080"
            XCTAssertTrue(toTandem || message.source == "127.0.0.1:8080", "browser leg outside the ws listener: \(message.firstLine)")
            XCTAssertEqual(toTandem, message.isRequest, "direction of \(message.firstLine) [\(message.cseq)]")
        }
        var browserSteps = ["INVITE INVITE", "180 INVITE", "200 INVITE", "ACK ACK", "BYE BYE", "200 BYE"]
        if let challenge = browserLeg.first(where: { ["401", "407"].contains($0.code) }) {
            browserSteps.insert(contentsOf: ["\(challenge.code) INVITE", "ACK ACK", "INVITE INVITE"], at: 1)
        }
        XCTAssertTrue(Self.contains(browserLeg.map(\.step), inOrder: browserSteps),
                      "browser leg \(browserLeg.map(\.step)) lacks \(browserSteps)\n\(ladder)")

        // The trunk leg: from Tandem's UDP listener to sipp and back.
        let trunkInvite = try XCTUnwrap(messages.first { $0.firstLine.hasPrefix("INVITE ") && $0.destinationPort == Self.trunkPort },
                                        "no INVITE to the trunk in the capture:\n\(ladder)")
        XCTAssertNotEqual(trunkInvite.callID, browserInvite.callID, "the B2BUA's trunk leg has its own Call-ID")
        let trunkLeg = messages.filter { $0.callID == trunkInvite.callID }
        for message in trunkLeg {
            let fromTandem = message.source == "127.0.0.1:5060" && message.destination == "127.0.0.1:\(Self.trunkPort)"
            let toTandem = message.source == "127.0.0.1:\(Self.trunkPort)" && message.destination == "127.0.0.1:5060"
            XCTAssertTrue(fromTandem || toTandem, "trunk leg addresses of \(message.firstLine): \(message.source) -> \(message.destination)")
            XCTAssertEqual(fromTandem, message.isRequest, "direction of \(message.firstLine) [\(message.cseq)]")
        }
        XCTAssertTrue(Self.contains(trunkLeg.map(\.step), inOrder: ["INVITE INVITE", "180 INVITE", "200 INVITE", "ACK ACK", "BYE BYE", "200 BYE"]),
                      "trunk leg \(trunkLeg.map(\.step))\n\(ladder)")

        // The log has one trace entry per message, with the Call-ID as `call`.
        let traced = daemon.stderr.split(separator: "\n").filter { $0.contains("SIP trace: ") }
        XCTAssertTrue(traced.contains { $0.contains("SIP trace: received INVITE WS") && $0.contains("call=\(browserInvite.callID)") },
                      traced.prefix(5).joined(separator: "\n"))
        XCTAssertTrue(traced.contains { $0.contains("SIP trace: sent INVITE UDP") && $0.contains("call=\(trunkInvite.callID)") })

        print("SIP ladder in the capture:\n\(ladder)")
        daemon.send(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(timeout: 15), 0, daemon.stderr.suffix(2000).description)
    }

    // MARK: The capture

    struct CapturedSIP {
        var source: String
        var destination: String
        var destinationPort: Int
        var firstLine: String
        var callID: String
        var cseq: String

        var isRequest: Bool { !firstLine.hasPrefix("SIP/2.0") }
        /// The status code of a response, "" for a request.
        var code: String { isRequest ? "" : String(firstLine.split(separator: " ").dropFirst().first ?? "") }
        /// "INVITE INVITE", "180 INVITE", "ACK ACK": the method or code, and the CSeq method.
        var step: String {
            let method = cseq.split(separator: " ").last.map(String.init) ?? ""
            return (isRequest ? String(firstLine.split(separator: " ").first ?? "") : code) + " " + method
        }
    }

    /// Whether `steps` holds `wanted` as a subsequence (other messages may come between).
    static func contains(_ steps: [String], inOrder wanted: [String]) -> Bool {
        var index = wanted.startIndex
        for step in steps where index < wanted.endIndex && step == wanted[index] { index += 1 }
        return index == wanted.endIndex
    }

    /// The SIP messages of a pcap as sngrep writes HEP it received: Ethernet, IPv4, UDP frames.
    static func sipMessages(inPcap path: String) throws -> [CapturedSIP] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard bytes.count >= 24 else { throw CaptureError(reason: "pcap of \(bytes.count) bytes") }
        let magic = Array(bytes[0..<4])
        let little = magic == [0xd4, 0xc3, 0xb2, 0xa1] || magic == [0x4d, 0x3c, 0xb2, 0xa1]
        guard little || magic == [0xa1, 0xb2, 0xc3, 0xd4] || magic == [0xa1, 0xb2, 0x3c, 0x4d] else {
            throw CaptureError(reason: "not a pcap file")
        }
        func u32(_ at: Int) -> Int {
            let b = bytes[at..<(at + 4)].map(Int.init)
            return little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
        }
        let linkType = u32(20)
        var messages: [CapturedSIP] = []
        var offset = 24
        while offset + 16 <= bytes.count {
            let length = u32(offset + 8)
            let frameStart = offset + 16
            offset = frameStart + length
            guard offset <= bytes.count else { break }
            let ip = frameStart + (linkType == 1 ? 14 : 0)
            guard bytes[ip] >> 4 == 4, bytes[ip + 9] == 17 else { continue }
            let udp = ip + Int(bytes[ip] & 0x0f) * 4
            let port = { (at: Int) in Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
            let address = { (at: Int) in bytes[at..<(at + 4)].map(String.init).joined(separator: ".") }
            let payload = String(decoding: bytes[(udp + 8)..<offset], as: UTF8.self)
            let lines = payload.components(separatedBy: "\r\n")
            func header(_ names: [String]) -> String {
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    if names.contains(line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()) {
                        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    }
                }
                return ""
            }
            messages.append(CapturedSIP(
                source: "\(address(ip + 12)):\(port(udp))", destination: "\(address(ip + 16)):\(port(udp + 2))",
                destinationPort: port(udp + 2), firstLine: lines.first ?? "", callID: header(["call-id", "i"]), cseq: header(["cseq"])))
        }
        return messages
    }

    struct CaptureError: Error { var reason: String }
}

extension URL {
    /// Creates (or empties) the file and returns its URL.
    fileprivate func creatingEmpty() -> URL {
        FileManager.default.createFile(atPath: path, contents: nil)
        return self
    }
}
