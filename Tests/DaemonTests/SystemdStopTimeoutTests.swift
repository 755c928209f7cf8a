// A drain under systemd: tandemd tells the fake $NOTIFY_SOCKET STOPPING=1 and keeps extending
// the stop timeout (EXTEND_TIMEOUT_USEC, systemd 236 and later) for the drain time left plus a
// margin, while a call keeps the drain going.

import Foundation
import NIOCore
import NIOPosix
import SIP
import TandemTestSupport
import XCTest

final class SystemdStopTimeoutTests: XCTestCase {
    /// A browser's audio offer as Chromium makes it (one host candidate, DTLS actpass).
    static let offer = [
        "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
        "a=msid-semantic: WMS", "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 126", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
        "a=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host", "a=ice-ufrag:Ab3d", "a=ice-pwd:q1w2e3r4t5y6u7i8o9p0a1s2",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:8C:D3:B6:5C:09:5E:D6:BC",
        "a=setup:actpass", "a=mid:0", "a=sendrecv", "a=rtcp-mux", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:0 PCMU/8000", "a=rtpmap:126 telephone-event/8000", "a=ssrc:1001 cname:test", "",
    ].joined(separator: "\r\n")

    func testADrainWithACallUpKeepsExtendingTheStopTimeout() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let endpointPort = LoopbackUDPSocket.freePort()
        let daemon = try DaemonUnderTest(drainTimeout: "7s", extraConfig: DaemonUnderTest.testEndpointsAndUser(
            port: endpointPort, rtpPorts: 23100...23199, rules: ["{name: test-numbers, match: '^noanswer$', trunk: test}"]))
        let wsPort = try daemon.startReady()

        // noanswer rings until the caller gives up: the call is up for the whole drain.
        let browser = try await BrowserSIPUser(port: wsPort, username: "1001", password: "pw-1001", group: group)
        _ = try await browser.sendAuthenticatedInvite("noanswer", offer: Self.offer, callID: "drain-\(UInt32.random(in: 1...UInt32.max))")
        var ringing = false
        while !ringing {
            let response = try await browser.client.nextResponse(timeout: .seconds(10))
            guard response.isProvisional else {
                try? await group.shutdownGracefully()
                return XCTFail("\(response.statusCode) \(response.reason)\n\(daemon.stderr.suffix(2000))")
            }
            ringing = response.statusCode == 180
        }
        XCTAssertEqual(try daemon.status().activeCalls, 1)

        let stopped = Date()
        daemon.send(SIGTERM)
        XCTAssertNotNil(daemon.notify.waitFor("STOPPING=1", timeout: 10), "no STOPPING=1")
        // The first extension at once: the whole drain (7 s) plus the 30 s margin.
        let first = daemon.notify.waitFor(timeout: 5) { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") }
        XCTAssertEqual(first.flatMap(Self.extension), 37_000_000, "\(daemon.notify.received)")
        // Re-sent while the call keeps the drain going, for the time left.
        let second = daemon.notify.waitFor(timeout: 8) { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") }
        let again = try XCTUnwrap(second.flatMap(Self.extension), "\(daemon.notify.received)")
        XCTAssertLessThan(again, 37_000_000)
        XCTAssertGreaterThan(again, 30_000_000, "still part of the drain left, plus the margin")

        XCTAssertEqual(daemon.waitForExit(timeout: 20), 0, daemon.stderr.suffix(3000).description)
        XCTAssertGreaterThan(Date().timeIntervalSince(stopped), 6, "the ringing call held the drain to its deadline")
        XCTAssertTrue(daemon.stderr.contains("drain complete ended_at_deadline=1"),
                      daemon.stderr.suffix(2000).description)
        await browser.close()
        try await group.shutdownGracefully()
    }

    /// The microseconds of an EXTEND_TIMEOUT_USEC assignment in a notify message.
    static func `extension`(_ message: String) -> Int? {
        message.split(separator: "\n").first { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") }.flatMap { Int($0.dropFirst("EXTEND_TIMEOUT_USEC=".count)) }
    }
}
