// DTMF from browsers to a trunk through tandemd: RFC 4733 events sent by headless Chromium
// (RTCDTMFSender) and SIP INFO from a browser SIP stack both reach the trunk as telephone-event
// packets at 8 kHz. The trunk is sipp for signaling; its SDP names a UDP socket of the test as
// its media address, so the test reads exactly what Tandem sends the trunk.

import Foundation
import NIOCore
import NIOPosix
import SIP
import Synchronization
import TandemTestPeers
import TandemTestSupport
import XCTest

final class DTMFCallTests: XCTestCase {
    private static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scenarios")
    private var group: MultiThreadedEventLoopGroup!
    private var daemon: DaemonUnderTest!
    private var sipp: Process?
    private var sippPort = 0
    private var wsPort = 0
    private let media = LoopbackUDPSocket(receiveTimeout: 1)
    private let collector = Collector()

    /// What the trunk's media socket received, filled by a reader thread.
    final class Collector: Sendable {
        let packets = Mutex<[[UInt8]]>([])
        /// Arrival time of each packet, in milliseconds of a monotonic clock.
        let arrivals = Mutex<[Double]>([])
        let running = Mutex(true)
    }

    override func setUp() async throws {
        try requirePeer("/usr/bin/sipp", "sipp (Debian sip-tester)")
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        sippPort = LoopbackUDPSocket.freePort()
        daemon = try DaemonUnderTest(extraConfig: DaemonUnderTest.trunkAndUser(trunkPort: sippPort))
        try daemon.start()
        XCTAssertNotNil(daemon.notify.waitFor("READY=1"), daemon.stderr)
        wsPort = try XCTUnwrap(try daemon.status().listeners.first { $0.transport == "ws" }?.port)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sipp")
        process.arguments = [
            "-sf", Self.scenarios.appendingPathComponent("uas-media-at.xml").path, "-key", "media_at", String(media.port),
            "-i", "127.0.0.1", "-p", String(sippPort), "-mp", String(LoopbackUDPSocket.freePort()), "-m", "1", "-nostdin",
            "-timeout", "90s", "-trace_err", "-error_file", daemon.directory + "/sipp-errors.log",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        sipp = process
        let socket = media, collector = collector
        Thread.detachNewThread {
            while collector.running.withLock({ $0 }) {
                if let datagram = socket.receive() {
                    collector.arrivals.withLock { $0.append(Double(DispatchTime.now().uptimeNanoseconds) / 1e6) }
                    collector.packets.withLock { $0.append(datagram) }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
    }

    override func tearDown() async throws {
        collector.running.withLock { $0 = false }
        if let sipp, sipp.isRunning { sipp.terminate() }
        daemon?.send(SIGTERM)
        _ = daemon?.waitForExit(timeout: 10)
        try? await group?.shutdownGracefully()
        try? await Task.sleep(for: .milliseconds(1100))  // the reader thread sees the flag before the socket goes
    }

    /// One telephone-event as the trunk saw it: digit, start timestamp, final duration, packets.
    struct Event: Equatable {
        var event: UInt8
        var timestamp: UInt32
        var duration: UInt16
        var endPackets: Int
        /// When its first and its last packet arrived (ms).
        var arrival: Double
        var lastArrival: Double
    }

    private func events(payloadType: UInt8) -> [Event] {
        var events: [Event] = []
        let arrivals = collector.arrivals.withLock { $0 }
        for (index, packet) in collector.packets.withLock({ $0 }).enumerated() where packet.count >= 16 && packet[1] & 0x7F == payloadType {
            let timestamp = UInt32(packet[4]) << 24 | UInt32(packet[5]) << 16 | UInt32(packet[6]) << 8 | UInt32(packet[7])
            let end = packet[13] & 0x80 != 0
            let duration = UInt16(packet[14]) << 8 | UInt16(packet[15])
            if let last = events.last, last.timestamp == timestamp {
                events[events.count - 1].duration = max(last.duration, duration)
                events[events.count - 1].lastArrival = arrivals[index]
                if end { events[events.count - 1].endPackets += 1 }
            } else {
                events.append(Event(event: packet[12], timestamp: timestamp, duration: duration, endPackets: end ? 1 : 0, arrival: arrivals[index], lastArrival: arrivals[index]))
            }
        }
        return events
    }

    /// Starts a WebRTC peer, places its offer as user 1001 calling 2000 (the sipp trunk) and hands
    /// it Tandem's answer.
    private func placeCall(_ script: String, arguments: [String], log: String) async throws
        -> (InteropPeer, BrowserSIPUser, BrowserSIPUser.Call) {
        let peer = try InteropPeer(script: script, arguments: arguments, log: daemon.directory + "/" + log)
        let offer = try XCTUnwrap(try peer.next()["sdp"] as? String)
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        let call = try await browser.call("2000", offer: offer)
        try peer.send(["type": "answer", "sdp": String(decoding: call.answer.body, as: UTF8.self)])
        return (peer, browser, call)
    }

    private func finish(_ browser: BrowserSIPUser, _ call: BrowserSIPUser.Call) async throws {
        // The browser may have closed its peer connection already (Tandem then sent the BYE).
        let bye = try await browser.hangUp(call)
        XCTAssertTrue([200, 481].contains(bye.statusCode))
        let deadline = Date().addingTimeInterval(15)
        while sipp?.isRunning == true && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        XCTAssertEqual(sipp?.terminationStatus, 0)
        await browser.close()
    }

    func testChromiumDigitsReachTheTrunkAsEventsAt8kHz() async throws {
        try requirePeer(anyOf: ["/usr/lib/chromium/chromium", "/usr/bin/chromium"], "Chromium (Debian chromium)")
        try InteropPeer.require("chromium_peer.py")
        let (peer, browser, call) = try await placeCall(
            "chromium_peer.py", arguments: ["--dtmf", "1234#", "--duration", "1", "--timeout", "40"], log: "chromium.log")
        let result = try peer.next()
        XCTAssertEqual(result["dtmfPlayed"] as? String, "1234#", "\(result)")
        try await Task.sleep(for: .milliseconds(500))
        try await finish(browser, call)

        let events = events(payloadType: 101)
        XCTAssertEqual(events.map(\.event), [1, 2, 3, 4, 11], "\(events)")
        for event in events {
            XCTAssertTrue((640...1120).contains(event.duration), "100 ms is about 800 at 8 kHz: \(event)")
            XCTAssertGreaterThanOrEqual(event.endPackets, 1, "\(event)")
        }
        // Each event's timestamp is where it began on the trunk's 8 kHz clock: the steps between
        // events agree with the time between their arrivals.
        for (earlier, later) in zip(events, events.dropFirst()) {
            let stepMilliseconds = Double(later.timestamp &- earlier.timestamp) / 8
            let arrivalMilliseconds = later.arrival - earlier.arrival
            XCTAssertGreaterThanOrEqual(stepMilliseconds, 170, "tone + gap is 170 ms at least")
            XCTAssertEqual(stepMilliseconds, arrivalMilliseconds, accuracy: 45, "timestamps in step with the clock: \(events)")
        }
        // Audio went to the trunk as PCMU too.
        XCTAssertGreaterThan(collector.packets.withLock { $0.filter { $0.count == 172 && $0[1] & 0x7F == 0 }.count }, 20)
    }

    func testSIPInfoDigitsReachTheTrunkAsEvents() async throws {
        try InteropPeer.require("aiortc_peer.py")
        let (peer, browser, call) = try await placeCall(
            "aiortc_peer.py", arguments: ["--codecs", "opus", "--duration", "3", "--timeout", "25"], log: "aiortc.log")
        try await Task.sleep(for: .seconds(1))
        for digit in ["5", "#"] {
            let ok = try await browser.info(call, body: "Signal=\(digit)\r\nDuration=160\r\n", contentType: "application/dtmf-relay")
            XCTAssertEqual(ok.statusCode, 200)
        }
        _ = try peer.next()
        try await finish(browser, call)
        let events = events(payloadType: 101)
        XCTAssertEqual(events.map(\.event), [5, 11], "\(events)")
        XCTAssertEqual(events.map(\.duration), [1280, 1280], "160 ms at 8 kHz")
        XCTAssertEqual(events.map(\.endPackets), [3, 3])
        for event in events {
            XCTAssertEqual(event.lastArrival - event.arrival, 160, accuracy: 40, "paced over the digit's 160 ms: \(event)")
        }
    }
}
