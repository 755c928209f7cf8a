import Control
import Foundation
import Logging
import NIOPosix
import XCTest

struct FixedStatus: ControlCommandHandler {
    let report: StatusReport
    func status() async -> StatusReport { report }
}

extension StatusReport {
    static let sample = StatusReport(
        version: "0.1.0", node: "test-node", pid: 42, state: "running", startedAt: Date(timeIntervalSince1970: 1_800_000_000),
        uptimeSeconds: 93784, configFile: "/etc/tandem/tandem.yaml", configFiles: ["/etc/tandem/tandem.yaml", "/etc/tandem/profiles/a.yaml"],
        configGeneration: 3, lastReload: .init(at: Date(timeIntervalSince1970: 1_800_000_100), succeeded: false, messages: ["x.yaml:3: foo: unknown key"]),
        listeners: [.init(transport: "udp", address: "127.0.0.1", port: 5060)], http: nil, controlSocket: "/run/tandem/control.sock",
        workers: 2, logLevel: "info", activeCalls: 0, registrations: 1, trunks: 1, users: 2, mediaPorts: 5000,
        libraries: ["libopus": "libopus 1.3.1"])
}

final class ControlSocketTests: XCTestCase {
    private var directory: String!
    private var group: MultiThreadedEventLoopGroup!

    override func setUp() async throws {
        directory = NSTemporaryDirectory() + "tandem-ctl-\(UUID().uuidString.prefix(8))"
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Servers started by a test, closed before the loop they run on goes away.
    private var servers: [ControlServer] = []

    override func tearDown() async throws {
        for server in servers { await server.close() }
        try await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func startServer(mode: UInt16 = 0o660) async throws -> ControlServer {
        try await ControlServer.bind(
            path: directory + "/run/control.sock", mode: mode, group: group,
            handler: FixedStatus(report: .sample), logger: Logger(label: "test"))
    }

    /// Sends raw bytes and reads one response line.
    private func exchange(_ raw: String, path: String) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(connected, 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = Array(raw.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var received: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            if byte == UInt8(ascii: "\n") { break }
            received.append(byte)
        }
        return String(decoding: received, as: UTF8.self)
    }

    func testStatusRoundTripAndSocketMode() async throws {
        let server = try await startServer(mode: 0o660)
        servers.append(server)
        var info = stat()
        XCTAssertEqual(stat(server.path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o660)
        let response = try ControlClient(path: server.path).send(ControlRequest(command: "status"))
        XCTAssertTrue(response.ok)
        XCTAssertEqual(response.status, .sample)
    }

    func testBadRequestsGetClearErrorsAndTheConnectionStaysUsable() async throws {
        let server = try await startServer()
        servers.append(server)
        XCTAssertTrue(try exchange("not json\n", path: server.path).contains("malformed request"))
        XCTAssertTrue(try exchange("{\"version\":1,\"command\":\"reboot\"}\n", path: server.path).contains("unknown command 'reboot'"))
        XCTAssertTrue(try exchange("{\"version\":9,\"command\":\"status\"}\n", path: server.path).contains("unsupported protocol version 9"))
        let long = String(repeating: "x", count: ControlProtocol.maxLineLength + 10)
        XCTAssertTrue(try exchange(long, path: server.path).contains("request line too long"))
        // The server still answers afterwards.
        XCTAssertTrue(try ControlClient(path: server.path).send(ControlRequest(command: "status")).ok)
    }

    func testSecondServerOnTheSamePathIsRefused() async throws {
        let server = try await startServer()
        do {
            _ = try await startServer()
            XCTFail("a second server took over a live control socket")
        } catch {
            XCTAssertEqual("\(error)", "another tandemd already answers on \(server.path)")
        }
        await server.close()
        XCTAssertFalse(FileManager.default.fileExists(atPath: server.path), "closing removes the socket file")
    }

    func testClientSaysPlainlyWhenNothingRuns() {
        let path = directory + "/absent.sock"
        XCTAssertThrowsError(try ControlClient(path: path).send(ControlRequest(command: "status"))) { error in
            let error = error as! ControlClientError
            XCTAssertEqual(error.kind, .notRunning)
            XCTAssertEqual(error.description, "tandemd is not running (nothing answers on \(path))")
        }
    }

    func testStatusText() {
        let text = StatusFormatter.text(.sample)
        XCTAssertTrue(text.contains("Node            test-node (tandemd 0.1.0, pid 42)"), text)
        XCTAssertTrue(text.contains("Uptime          1d 2h 3m 4s"), text)
        XCTAssertTrue(text.contains("Last reload     REJECTED"), text)
        XCTAssertTrue(text.contains("x.yaml:3: foo: unknown key"), text)
        XCTAssertTrue(text.contains("SIP listeners   UDP 127.0.0.1:5060"), text)
        XCTAssertEqual(StatusFormatter.duration(59), "59s")
        XCTAssertEqual(StatusFormatter.duration(3600), "1h 0m 0s")
    }
}
