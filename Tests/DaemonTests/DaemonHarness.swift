// Black-box harness: runs the built tandemd and tandemctl binaries as a user would, with a
// temporary configuration, a private control socket and a fake $NOTIFY_SOCKET.

import Foundation
import XCTest

enum Binaries {
    /// The directory holding the built executables: next to the test bundle, or $TANDEM_BIN_DIR.
    static let directory: String = {
        if let explicit = ProcessInfo.processInfo.environment["TANDEM_BIN_DIR"] { return explicit }
        var candidates: [String] = []
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(runner.deletingLastPathComponent().path)
        candidates.append(runner.deletingLastPathComponent().deletingLastPathComponent().path)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/tandemd") } ?? candidates[0]
    }()

    static var tandemd: String { directory + "/tandemd" }
    static var tandemctl: String { directory + "/tandemctl" }
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

struct ToolResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a command to completion, capturing its output through files (no pipe deadlocks).
func runTool(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ToolResult {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-tool-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let out = scratch.appendingPathComponent("out"), err = scratch.appendingPathComponent("err")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    try process.run()
    process.waitUntilExit()
    return ToolResult(
        status: process.terminationStatus,
        stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

/// A Unix datagram socket standing in for systemd's $NOTIFY_SOCKET.
final class NotifySocket {
    let path: String
    private let fd: Int32
    private(set) var received: [String] = []

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw NSError(domain: "notify", code: Int(errno)) }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Waits until a message containing `assignment` (e.g. "READY=1") arrives; returns it.
    @discardableResult
    func waitFor(_ assignment: String, timeout: TimeInterval = 60) -> String? {
        waitFor(timeout: timeout) { $0 == assignment }
    }

    /// Waits until a message with an assignment `matching` arrives; returns it.
    @discardableResult
    func waitFor(timeout: TimeInterval = 60, matching: (Substring) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var pollfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&pollfd, 1, min(remaining, 200)) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { continue }
            let message = String(decoding: buffer[0..<n], as: UTF8.self)
            received.append(message)
            if message.split(separator: "\n").contains(where: matching) { return message }
        }
        return nil
    }
}

/// One tandemd process with its own directory, configuration and notify socket.
final class DaemonUnderTest {
    let directory: String
    let configPath: String
    let controlSocket: String
    let notify: NotifySocket
    private var process: Process?
    private let stderrPath: String

    /// Writes a configuration whose listeners all take free ports (port 0).
    init(drainTimeout: String = "5s", demoPhone: Bool = false, extraConfig: String = "") throws {
        directory = NSTemporaryDirectory() + "tandemd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        configPath = directory + "/tandem.yaml"
        controlSocket = directory + "/control.sock"
        stderrPath = directory + "/stderr.log"
        notify = try NotifySocket(path: directory + "/notify.sock")
        try write(config: DaemonUnderTest.config(node: "under-test", drainTimeout: drainTimeout, controlSocket: controlSocket, demoPhone: demoPhone) + extraConfig)
    }

    /// Runs with a configuration already written at `configPath` (a copy of the shipped one, say),
    /// in `directory`; the control socket is given on the command line (`--control-socket`).
    init(directory: String, configPath: String) throws {
        self.directory = directory
        self.configPath = configPath
        controlSocket = directory + "/control.sock"
        stderrPath = directory + "/stderr.log"
        notify = try NotifySocket(path: directory + "/notify.sock")
    }

    deinit {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func config(node: String, drainTimeout: String, controlSocket: String, demoPhone: Bool = false) -> String {
        """
        node: \(node)
        sip:
          listeners:
            - {transport: udp, address: 127.0.0.1, port: 0}
            - {transport: tcp, address: 127.0.0.1, port: 0}
            - {transport: ws, address: 127.0.0.1, port: 0}
        media:
          interfaces:
            - {name: default, address: 127.0.0.1, port_min: 21000, port_max: 21999}  # below the kernel's ephemeral ports
        workers: 1
        control:
          socket: \(controlSocket)
          mode: "0660"
        http:
          address: 127.0.0.1
          port: 0\(demoPhone ? "\n  demo_phone: true" : "")
        log:
          level: info
        drain_timeout: \(drainTimeout)

        """
    }

    /// A trunk `pbx` on loopback at `trunkPort` (G.711, RFC 4733 DTMF, no OPTIONS), four-digit
    /// extensions 2xxx routed to it, and the web user 1001 with password pw-1001: what the
    /// whole-call tests share.
    static func trunkAndUser(trunkPort: Int) -> String {
        """
        trunks:
          - {name: pbx, address: 127.0.0.1, port: \(trunkPort), transport: udp, allowed_sources: [127.0.0.1/32],
             codec_profile: g711, dtmf: rfc4733, options_interval: 0}
        dial_plan:
          - {name: extensions, match: '^(2\\d{3})$', trunk: pbx}
        users:
          - {username: "1001", password: pw-1001}

        """
    }

    /// Copies the shipped `config/` to `directory/config`, adds a profile `name` routing 3xxx to
    /// sipp as the trunk `pbx` at `trunkPort`, and returns the copy's path and user 1001's
    /// password from the shipped web.yaml: the start of every test of the shipped configuration.
    static func shippedConfiguration(in directory: String, trunkPort: Int, profile name: String, by test: String) throws
        -> (config: String, password: String) {
        let config = directory + "/config"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Binaries.packageRoot.appendingPathComponent("config").path, toPath: config)
        try """
            # Added by \(test): sipp as the trunk `pbx`, and 3xxx routed to it.
            trunks:
              - {name: pbx, address: 127.0.0.1, port: \(trunkPort), transport: udp, allowed_sources: [127.0.0.1/32],
                 codec_profile: g711, dtmf: rfc4733, options_interval: 0}
            dial_plan:
              - {name: \(name), match: '^(3\\d{3})$', trunk: pbx}

            """.write(toFile: config + "/profiles/zz-\(name).yaml", atomically: true, encoding: .utf8)
        let web = try String(contentsOfFile: config + "/profiles/web.yaml", encoding: .utf8)
        guard let password = web.range(of: #"username: "1001"\n\s+password: (\S+)"#, options: .regularExpression)
            .map({ String(web[$0]).components(separatedBy: "password: ")[1] })
        else { throw NSError(domain: "config", code: 1, userInfo: [NSLocalizedDescriptionKey: "no user 1001 in the shipped web.yaml"]) }
        return (config, password)
    }

    /// Tandem's built-in test endpoints at `port` (RTP on `rtpPorts`) as the trunk `test`
    /// (G.711), the dial-plan `rules` (YAML flow mappings) routing to it, and the web user 1001
    /// with password pw-1001.
    static func testEndpointsAndUser(port: Int, rtpPorts: ClosedRange<Int>, optionsInterval: Int = 0, rules: [String]) -> String {
        """
        test_endpoints: {address: 127.0.0.1, port: \(port), rtp_port_min: \(rtpPorts.lowerBound), rtp_port_max: \(rtpPorts.upperBound)}
        trunks:
          - {name: test, address: 127.0.0.1, port: \(port), transport: udp, codec_profile: g711, options_interval: \(optionsInterval)}
        dial_plan:
        \(rules.map { "  - " + $0 }.joined(separator: "\n"))
        users:
          - {username: "1001", password: pw-1001}

        """
    }

    /// Starts tandemd, waits for READY=1, and returns the WebSocket listener's port.
    func startReady(file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        try start()
        XCTAssertNotNil(notify.waitFor("READY=1"), stderr, file: file, line: line)
        guard let port = try status().listeners.first(where: { $0.transport == "ws" })?.port else {
            throw NSError(domain: "tandemd", code: 1, userInfo: [NSLocalizedDescriptionKey: "no ws listener: \(stderr.suffix(2000))"])
        }
        return port
    }

    func write(config: String) throws {
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts tandemd; with `wrapper` (a command that ends by exec'ing its arguments, such as
    /// `unshare -n ...`), through it, so the process keeps tandemd's pid.
    func start(arguments: [String] = [], environment extra: [String: String] = [:], wrapper: [String] = []) throws {
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        let command = [Binaries.tandemd, "--config", configPath] + arguments
        process.executableURL = URL(fileURLWithPath: wrapper.first ?? command[0])
        process.arguments = Array((wrapper + command).dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment.removeValue(forKey: "JOURNAL_STREAM")
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
        self.process = process
    }

    var pid: Int32 { process?.processIdentifier ?? 0 }
    var isRunning: Bool { process?.isRunning ?? false }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func send(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the process to end; returns its exit status, or nil on timeout.
    func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let process, process.isRunning else {
                return self.process?.terminationStatus
            }
            usleep(20_000)
        }
        return nil
    }

    func ctl(_ arguments: [String]) throws -> ToolResult {
        try runTool(Binaries.tandemctl, arguments + ["--socket", controlSocket])
    }

    func status() throws -> StatusReportJSON {
        let result = try ctl(["status", "--json"])
        guard result.status == 0 else {
            throw NSError(domain: "tandemctl", code: Int(result.status), userInfo: [NSLocalizedDescriptionKey: result.stderr])
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(StatusReportJSON.self, from: Data(result.stdout.utf8))
    }
}

/// The parts of `tandemctl status --json` the tests read, decoded independently of the
/// daemon's own types (snake_case keys spelled out) so the wire format itself is checked.
struct StatusReportJSON: Decodable {
    struct Listener: Decodable { var transport: String; var address: String; var port: Int }
    struct Reload: Decodable { var succeeded: Bool; var messages: [String] }
    var version: String
    var node: String
    var pid: Int32
    var state: String
    var uptimeSeconds: Double
    var configFile: String
    var configGeneration: Int
    var lastReload: Reload?
    var listeners: [Listener]
    var http: Listener?
    var activeCalls: Int
    var registrations: Int
    var logLevel: String
    var libraries: [String: String]
    var media: [String: Int]?

    enum CodingKeys: String, CodingKey {
        case version, node, pid, state, uptimeSeconds = "uptime_seconds", configFile = "config_file"
        case configGeneration = "config_generation", lastReload = "last_reload", listeners, http, activeCalls = "active_calls"
        case registrations, logLevel = "log_level", libraries, media
    }
}

/// A plain HTTP/1.1 GET over a TCP socket; returns the status line and body.
func httpGet(port: Int, path: String) throws -> (statusLine: String, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw NSError(domain: "http", code: Int(errno)) }
    var tv = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        response.append(contentsOf: chunk[0..<n])
    }
    let text = String(decoding: response, as: UTF8.self)
    let parts = text.components(separatedBy: "\r\n\r\n")
    return (parts[0].components(separatedBy: "\r\n")[0], parts.dropFirst().joined(separator: "\r\n\r\n"))
}
