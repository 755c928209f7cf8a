// tandemd under load: started from the build directory with a generated configuration (a trunk
// pointing at the generator's SIP UDP port, a dial plan, one web user). The generator places each
// call as the browser over SIP/WebSocket with digest authentication and answers Tandem's INVITE
// toward the trunk with PCMU on the call's trunk socket.

import Foundation
import NIOCore
import NIOPosix
import SIP
import TandemTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A SIP UAS on UDP standing in for the trunk: answers INVITE with the pending call's PCMU SDP,
/// BYE and OPTIONS with 200.
final class TrunkUAS: @unchecked Sendable {
    let socket: UDPSocket
    private let lock = NSLock()
    private var pending: LoadCall?
    private var answered: [String: [UInt8]] = [:]
    private let stop = StopFlag()
    private(set) var failures: [String] = []

    init() throws {
        socket = try UDPSocket()
        let thread = Thread { [self] in run() }
        thread.name = "trunk-uas"
        thread.start()
    }

    func expect(_ call: LoadCall?) { lock.withLock { pending = call } }
    func shutdown() { stop.set() }

    private func run() {
        while !stop.isSet {
            guard let (datagram, port) = socket.receive(timeoutMilliseconds: 100),
                let message = try? SIPParser.parse(datagram), case .request(let request) = message
            else { continue }
            let callID = request.headers["Call-ID"] ?? ""
            switch request.method {
            case .invite:
                if let previous = lock.withLock({ answered[callID] }) {
                    socket.send(previous, to: loopbackAddress(port: port))
                    continue
                }
                guard let call = lock.withLock({ pending }) else {
                    socket.send(request.makeResponse(503).serialized(), to: loopbackAddress(port: port))
                    continue
                }
                var response = request.makeResponse(200, toTag: "t\(call.index)")
                do {
                    try call.trunkRemote(from: String(decoding: request.body, as: UTF8.self))
                    response.headers.add("Contact", "<sip:trunk@127.0.0.1:\(socket.port)>")
                    response.headers.add("Content-Type", "application/sdp")
                    response.body = Array(call.trunkAnswer.utf8)
                } catch {
                    lock.withLock { failures.append("\(error)") }
                    response = request.makeResponse(488)
                }
                let bytes = response.serialized()
                lock.withLock {
                    answered[callID] = bytes
                    pending = nil
                }
                socket.send(bytes, to: loopbackAddress(port: port))
            case .ack:
                continue
            default:
                socket.send(request.makeResponse(200).serialized(), to: loopbackAddress(port: port))
            }
        }
    }
}

final class TandemGateway {
    let directory: String
    let binary: String
    let process = Process()
    let uas: TrunkUAS
    let wsPort: UInt16
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var user: BrowserSIPUser?
    private var established: [BrowserSIPUser.Call] = []

    /// - Parameters:
    ///   - binary: the tandemd executable.
    ///   - maxLoad: media.max_load (percent of a worker loop's time) for admission control.
    init(binary: String, maxLoad: Int = 85, extraMedia: String = "") throws {
        self.binary = binary
        directory = NSTemporaryDirectory() + "tandem-load-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        uas = try TrunkUAS()
        wsPort = try freeTCPPort()
        let sipPort = try freeUDPPort()
        let config = """
            node: load
            sip:
              listeners:
                - {transport: udp, address: 127.0.0.1, port: \(sipPort)}
                - {transport: ws, address: 127.0.0.1, port: \(wsPort)}
            media:
              interfaces:
                - {name: default, address: 127.0.0.1, port_min: 22000, port_max: 23999}
              max_load: \(maxLoad)
            \(extraMedia)
            control:
              socket: \(directory)/control.sock
              mode: "0660"
            http:
              address: 127.0.0.1
              port: 0
            log:
              level: warning
            drain_timeout: 2s
            workers: \(ProcessInfo.processInfo.environment["TANDEM_LOAD_WORKERS"] ?? "0")
            trunks:
              - name: load
                address: 127.0.0.1
                port: \(uas.socket.port)
                transport: udp
                allowed_sources: [127.0.0.1/32]
                codec_profile: g711
                options_interval: 0
            dial_plan:
              - {name: all, match: '^(\\d+)$', trunk: load}
            users:
              - {username: "1001", password: load-1001}

            """
        try config.write(toFile: directory + "/tandem.yaml", atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: directory + "/stderr.log", contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--config", directory + "/tandem.yaml"]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/stderr.log"))
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stderr: String { (try? String(contentsOfFile: directory + "/stderr.log", encoding: .utf8)) ?? "" }

    /// Connects the browser's SIP user once tandemd listens.
    func waitUntilReady() async throws {
        let deadline = Date().addingTimeInterval(20)
        while true {
            do {
                user = try await BrowserSIPUser(port: Int(wsPort), username: "1001", password: "load-1001", group: group)
                return
            } catch {
                guard process.isRunning, Date() < deadline else { throw LoadError("tandemd did not start: \(stderr.suffix(2000))") }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// The worker loops' load as `tandemctl status` shows it (e.g. "31% 28%").
    func workerLoads() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: URL(fileURLWithPath: binary).deletingLastPathComponent().path + "/tandemctl")
        process.arguments = ["status", "--socket", directory + "/control.sock"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "?" }
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: "\n").first { $0.hasPrefix("Worker load") }.map { $0.dropFirst("Worker load".count).trimmingCharacters(in: .whitespaces) } ?? "?"
    }

    /// Places the call through Tandem; returns the browser's answer SDP, or throws with the
    /// final response (a 503 from admission control, for instance).
    func place(_ call: LoadCall) async throws -> String {
        guard let user else { throw LoadError("not connected") }
        uas.expect(call)
        defer { uas.expect(nil) }
        let established = try await user.call("2\(String(format: "%03d", call.index % 1000))", offer: call.browserOffer,
                                              callID: "load-\(call.index)-\(UInt32.random(in: 1...UInt32.max))")
        self.established.append(established)
        return String(decoding: established.answer.body, as: UTF8.self)
    }

    func hangUpAll() async {
        guard let user else { return }
        for call in established { _ = try? await user.hangUp(call) }
        established.removeAll()
    }

    func shutdown() async {
        await user?.close()
        uas.shutdown()
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try? await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
