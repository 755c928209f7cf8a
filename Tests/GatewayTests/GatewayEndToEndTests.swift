// The signaling side end to end over real sockets: a SIP-over-WebSocket client standing in for a
// browser, sipp as the trunk, the transport layer and signaling engine in between, and the media
// stand-in as session manager (the media legs come later). Loopback only.

import Foundation
import Gateway
import Logging
import NIOCore
import NIOPosix
import SIP
import SIPTransport
import TandemConfig
import TandemTestPeers
import TandemTestSupport
import XCTest

final class GatewayEndToEndTests: XCTestCase {
    private static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scenarios")

    private var group: MultiThreadedEventLoopGroup!
    private var transport: SIPTransportLayer!
    private var engine: SignalingEngine!
    private var engineTask: Task<Void, Never>?
    private var media: MediaStandIn!
    private var directory: String!
    private var sippPort = 0

    override func setUp() async throws {
        try requirePeer("/usr/bin/sipp", "sipp (Debian sip-tester)")
        directory = NSTemporaryDirectory() + "tandem-e2e-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        media = MediaStandIn()
        sippPort = LoopbackUDPSocket.freePort()
        let config = """
            node: e2e
            sip:
              listeners:
                - {transport: udp, address: 127.0.0.1, port: 0}
                - {transport: ws, address: 127.0.0.1, port: 0}
            trunks:
              - name: sipp
                address: 127.0.0.1
                port: \(sippPort)
                allowed_sources: [127.0.0.1/32]
                options_interval: 0
            users:
              - {username: "1001", password: pw-1001}
            dial_plan:
              - {match: '^(2\\d{3})$', trunk: sipp}

            """
        try config.write(toFile: directory + "/tandem.yaml", atomically: true, encoding: .utf8)
        let configuration = try ConfigurationLoader().load(path: directory + "/tandem.yaml").configuration
        let logger = Logger(label: "e2e")
        transport = try await SIPTransportLayer.start(
            configuration.sip.listeners.map { SIPListenerSpec(transport: $0.transport, address: $0.address, port: $0.port) },
            group: group, logger: logger)
        engine = SignalingEngine(transport: transport, configuration: configuration, logger: logger, sessions: media)
        let engine = self.engine!
        engineTask = Task { await engine.run() }
    }

    override func tearDown() async throws {
        await transport?.close()
        await engineTask?.value
        try await group?.shutdownGracefully()
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    // MARK: Helpers

    private var wsPort: Int { transport.bound.first { $0.transport == .ws }!.port }
    private var udpPort: Int { transport.bound.first { $0.transport == .udp }!.port }

    /// Starts sipp as the trunk with `scenario`; the returned process ends when the scenario does.
    private func startSipp(_ scenario: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sipp")
        process.arguments = [
            "-sf", Self.scenarios.appendingPathComponent(scenario).path, "-i", "127.0.0.1", "-p", String(sippPort), "-m", "1",
            "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err", "-error_file", directory + "/sipp-\(scenario).err",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 0.3)  // sipp binds its port
        return process
    }

    private func waitForSipp(_ process: Process, scenario: String) {
        let deadline = Date().addingTimeInterval(25)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate() }
        let errors = (try? String(contentsOfFile: directory + "/sipp-\(scenario).err", encoding: .utf8)) ?? ""
        XCTAssertEqual(process.terminationStatus, 0, "sipp \(scenario) failed: \(errors.suffix(800))")
    }

    private func request(_ method: SIPMethod, uri: String, to: String, callID: String, cseq: UInt32, branch: String = TransactionLayer<String>.newBranch(),
                         body: [UInt8] = [], extra: [(String, String)] = []) -> SIPRequest {
        BrowserSIPUser.request(method, uri: uri, from: "\"Alice\" <sip:1001@127.0.0.1>;tag=browser1", to: to, callID: callID, cseq: cseq,
                               branch: branch, contact: "<sip:x7@abc123.invalid;transport=ws>", body: body, extra: extra)
    }

    /// Skips provisional responses until a final one, collecting the provisional codes.
    private func finalResponse(_ client: SIPWebSocketClient, provisional: inout [Int]) async throws -> SIPResponse {
        while true {
            let response = try await client.nextResponse()
            if response.isProvisional { provisional.append(response.statusCode) } else { return response }
        }
    }

    /// The browser calls `number` and gets through the digest challenge. Returns the
    /// authenticated INVITE and the provisional responses seen up to `stopAt`.
    private func call(_ client: SIPWebSocketClient, _ number: String, callID: String) async throws -> SIPRequest {
        let uri = "sip:\(number)@127.0.0.1:\(wsPort)"
        let sdp = Array("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n".utf8)
        let first = request(.invite, uri: uri, to: "<sip:\(number)@127.0.0.1>", callID: callID, cseq: 1, body: sdp)
        try await client.send(first)
        var provisional: [Int] = []
        let challenge = try await finalResponse(client, provisional: &provisional)
        XCTAssertEqual(challenge.statusCode, 401)
        try await client.send(ClientInviteTransaction.makeACK(for: first, response: challenge))
        var digest = DigestClient(username: "1001", password: "pw-1001")
        let credentials = try XCTUnwrap(digest.answer(headerValues: challenge.headers.values("WWW-Authenticate"), method: "INVITE", uri: uri))
        let invite = request(.invite, uri: uri, to: "<sip:\(number)@127.0.0.1>", callID: callID, cseq: 2, body: sdp,
                             extra: [("Authorization", credentials.headerValue)])
        try await client.send(invite)
        return invite
    }

    private func ack(for ok: SIPResponse, invite: SIPRequest, cseq: UInt32 = 2) throws -> SIPRequest {
        let target = try SIPNameAddress(parsing: try XCTUnwrap(ok.headers["Contact"])).uri.description
        return request(.ack, uri: target, to: try XCTUnwrap(ok.headers["To"]), callID: try invite.headers.callID(), cseq: cseq)
    }

    // MARK: Tests

    func testBrowserCallAnsweredByTheTrunkAndHungUpByTheBrowser() async throws {
        let sipp = try startSipp("uas-answer.xml")
        let client = try await SIPWebSocketClient.connect(port: wsPort, group: group)
        let invite = try await call(client, "2000", callID: "e2e-answer")
        var provisional: [Int] = []
        let ok = try await finalResponse(client, provisional: &provisional)
        XCTAssertEqual(provisional, [100, 180])
        XCTAssertEqual(ok.statusCode, 200)
        XCTAssertEqual(String(decoding: ok.body, as: UTF8.self), "v=0 relayed-answer-from-trunk")
        try await client.send(try ack(for: ok, invite: invite))
        let target = try SIPNameAddress(parsing: try XCTUnwrap(ok.headers["Contact"])).uri.description
        try await client.send(request(.bye, uri: target, to: try XCTUnwrap(ok.headers["To"]), callID: "e2e-answer", cseq: 3))
        let byeOK = try await client.nextResponse()
        XCTAssertEqual(byeOK.statusCode, 200)
        waitForSipp(sipp, scenario: "uas-answer.xml")
        let calls = await engine.activeCalls
        XCTAssertEqual(calls, 0)
        XCTAssertEqual(media.events, ["offer from web", "answer from trunk", "release"])
        await client.close()
    }

    func testTrunkHangsUpAndTheBrowserGetsTheBYE() async throws {
        let sipp = try startSipp("uas-hangup.xml")
        let client = try await SIPWebSocketClient.connect(port: wsPort, group: group)
        let invite = try await call(client, "2001", callID: "e2e-hangup")
        var provisional: [Int] = []
        let ok = try await finalResponse(client, provisional: &provisional)
        XCTAssertEqual(ok.statusCode, 200)
        try await client.send(try ack(for: ok, invite: invite))
        let bye = try await client.nextRequest()
        XCTAssertEqual(bye.method, .bye)
        XCTAssertEqual(try bye.headers.callID(), "e2e-hangup")
        try await client.send(bye.makeResponse(200))
        waitForSipp(sipp, scenario: "uas-hangup.xml")
        await client.close()
    }

    func testBusyTrunkReachesTheBrowser() async throws {
        let sipp = try startSipp("uas-busy.xml")
        let client = try await SIPWebSocketClient.connect(port: wsPort, group: group)
        let invite = try await call(client, "2002", callID: "e2e-busy")
        var provisional: [Int] = []
        let busy = try await finalResponse(client, provisional: &provisional)
        XCTAssertEqual(busy.statusCode, 486)
        try await client.send(ClientInviteTransaction.makeACK(for: invite, response: busy))
        waitForSipp(sipp, scenario: "uas-busy.xml")
        await client.close()
    }

    func testBrowserCancelsWhileTheTrunkRings() async throws {
        let sipp = try startSipp("uas-cancel.xml")
        let client = try await SIPWebSocketClient.connect(port: wsPort, group: group)
        let invite = try await call(client, "2003", callID: "e2e-cancel")
        var ringing = try await client.nextResponse()
        while ringing.statusCode != 180 { ringing = try await client.nextResponse() }
        var cancel = invite
        cancel.method = .cancel
        cancel.body = []
        cancel.headers.remove("Content-Type")
        cancel.headers.remove("Authorization")
        cancel.headers.set("CSeq", "2 CANCEL")
        try await client.send(cancel)
        var codes: [Int] = []
        var terminated: SIPResponse?
        while codes.count < 2 {
            let response = try await client.nextResponse()
            codes.append(response.statusCode)
            if response.statusCode == 487 { terminated = response }
        }
        XCTAssertEqual(codes.sorted(), [200, 487])
        try await client.send(ClientInviteTransaction.makeACK(for: invite, response: try XCTUnwrap(terminated)))
        waitForSipp(sipp, scenario: "uas-cancel.xml")
        await client.close()
    }

    /// Registers 1001 over `client`, answering the digest challenge.
    private func register(_ client: SIPWebSocketClient) async throws {
        let uri = "sip:127.0.0.1:\(wsPort)"
        let first = request(.register, uri: uri, to: "<sip:1001@127.0.0.1>", callID: "reg-load", cseq: 1, extra: [("Expires", "600")])
        try await client.send(first)
        let challenge = try await client.nextResponse()
        XCTAssertEqual(challenge.statusCode, 401)
        var digest = DigestClient(username: "1001", password: "pw-1001")
        let credentials = try XCTUnwrap(digest.answer(headerValues: challenge.headers.values("WWW-Authenticate"), method: "REGISTER", uri: uri))
        try await client.send(request(.register, uri: uri, to: "<sip:1001@127.0.0.1>", callID: "reg-load", cseq: 2,
                                      extra: [("Expires", "600"), ("Authorization", credentials.headerValue)]))
        let ok = try await client.nextResponse()
        XCTAssertEqual(ok.statusCode, 200)
    }

    /// A thousand calls from sipp (the trunk) at 100 calls/s to a registered browser that
    /// answers every one: no call may fail. (Figures for the rate reached are in
    /// docs/performance.md, from `make bench`.)
    func testAThousandTrunkCallsAtAHundredPerSecond() async throws {
        let client = try await SIPWebSocketClient.connect(port: wsPort, group: group)
        try await register(client)
        let answering = Task {
            var answered = 0
            while !Task.isCancelled {
                guard case .request(let request)? = try? await client.next(timeout: .seconds(3)) else { break }
                switch request.method {
                case .invite:
                    var ok = request.makeResponse(200, toTag: "b\(answered)")
                    ok.headers.add("Contact", "<sip:x7@abc123.invalid;transport=ws>")
                    ok.headers.add("Content-Type", "application/sdp")
                    ok.body = Array("v=0\r\n".utf8)
                    try? await client.send(ok)
                    answered += 1
                case .bye:
                    try? await client.send(request.makeResponse(200))
                default:
                    break
                }
            }
            return answered
        }
        // TANDEM_LOAD_RATE and TANDEM_LOAD_CALLS raise the load for measurements (docs/performance.md).
        let environment = ProcessInfo.processInfo.environment
        let rate = environment["TANDEM_LOAD_RATE"].flatMap(Int.init) ?? 100
        let total = environment["TANDEM_LOAD_CALLS"].flatMap(Int.init) ?? 1000
        let result = try runSipp(["-sf", Self.scenarios.appendingPathComponent("uac-call.xml").path, "127.0.0.1:\(udpPort)", "-i", "127.0.0.1",
                                  "-p", String(sippPort), "-s", "1001", "-r", String(rate), "-m", String(total), "-l", String(max(200, rate * 2))])
        XCTAssertEqual(result.status, 0, "sipp reported failed calls: \(result.output.suffix(1500))")
        XCTAssertTrue(result.output.contains("Successful call"), result.output)
        // sipp's closing statistics (call rate, response times) for the performance notes.
        for line in result.output.split(separator: "\n") where ["Call Rate", "Successful call", "Failed call", "Elapsed Time", "Response Time"].contains(where: { line.contains($0) }) {
            print("sipp: \(line.trimmingCharacters(in: .whitespaces))")
        }
        // Every call ends (the gateway may still be a little behind sipp at high rates).
        var calls = await engine.activeCalls
        for _ in 0..<100 where calls > 0 {
            try await Task.sleep(for: .milliseconds(100))
            calls = await engine.activeCalls
        }
        XCTAssertEqual(calls, 0)
        await client.close()  // ends the answering loop
        let answered = await answering.value
        XCTAssertEqual(answered, total)
    }

    private func runSipp(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sipp")
        process.arguments = arguments + ["-nostdin", "-timeout", "120s", "-timeout_error", "-trace_err", "-error_file", directory + "/sipp-load.err"]
        let output = directory + "/sipp-load.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    func testInviteFromAnUnknownAddressIsForbidden() throws {
        // 127.0.0.2 is loopback too, but not in the trunk's allowed sources.
        let stranger = LoopbackUDPSocket(address: "127.0.0.2", receiveTimeout: 5)
        var invite = request(.invite, uri: "sip:1001@127.0.0.1", to: "<sip:1001@127.0.0.1>", callID: "stranger", cseq: 1,
                             body: Array("v=0\r\n".utf8))
        invite.headers.set("Via", "SIP/2.0/UDP 127.0.0.2:\(stranger.port);branch=z9hG4bKstranger;rport")
        stranger.send(invite.serialized(), toPort: udpPort)
        var final: SIPResponse?
        while final == nil, let datagram = stranger.receive() {
            if case .response(let response) = try SIPParser.parse(datagram), !response.isProvisional { final = response }
        }
        XCTAssertEqual(final?.statusCode, 403)
        XCTAssertEqual(final?.reason, "Forbidden (source not allowed)")
    }
}
