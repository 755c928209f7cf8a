// The session manager with real media legs, driven with SDP as the signaling core drives it: what
// each side is offered and answered (relay or transcoding, narrowband Opus hints, DTLS roles,
// ICE-lite), re-INVITEs for hold and ICE restart, refusals (bad SDP 488, no ports 503), and
// ports going back to the pool when a call ends.

import Foundation
import Gateway
import Logging
import MediaEngine
import NIOPosix
import SDP
import TandemConfig
import XCTest

final class MediaSessionsTests: XCTestCase {
    private var group: MediaLoopGroup!
    private var directory: URL!
    private var current: MediaSessions?

    override func setUp() async throws {
        group = try MediaLoopGroup(threads: 1)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("media-sessions-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        // Calls still being torn down close their sockets on the loop before it goes.
        if let current, let capacity = current.portUsage["default"]?.capacity { try await waitForPorts(current, free: capacity) }
        current?.workers.stop()
        await group.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }

    private func sessions(portMin: Int = 22000, portMax: Int = 22099, dtmf: String = "rfc4733", address: String = "127.0.0.1") throws -> MediaSessions {
        let path = directory.appendingPathComponent("tandem.yaml").path
        try """
            node: test
            media:
              interfaces:
                - {name: default, address: "\(address)", port_min: \(portMin), port_max: \(portMax)}
            trunks:
              - {name: pbx, address: 127.0.0.1, port: 5080, transport: udp, allowed_sources: [127.0.0.1/32], codec_profile: g711, dtmf: \(dtmf)}
            users:
              - {username: "1001", password: secret}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try ConfigurationLoader().load(path: path).configuration
        let sessions = try MediaSessions(configuration: configuration, workers: MediaWorkers(group: group), logger: Logger(label: "test"))
        current = sessions
        return sessions
    }

    private static func browserOffer(codecs: String = "111 0 8 110 126", ufrag: String = "EsAw", direction: String = "sendrecv",
                                     fingerprint: Bool = true) -> [UInt8] {
        var lines = [
            "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
            "m=audio 9 UDP/TLS/RTP/SAVPF \(codecs)", "c=IN IP4 0.0.0.0",
            "a=candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host", "a=ice-ufrag:\(ufrag)", "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1",
        ]
        if fingerprint {
            lines.append("a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F")
        }
        lines += [
            "a=setup:actpass", "a=mid:0", "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=\(direction)", "a=rtcp-mux",
            "a=rtpmap:111 opus/48000/2", "a=rtcp-fb:111 transport-cc", "a=fmtp:111 minptime=10;useinbandfec=1",
            "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:110 telephone-event/48000", "a=rtpmap:126 telephone-event/8000",
            "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:1", "a=rtpmap:96 VP8/90000",
        ]
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    private static func trunkSDP(_ codecs: String = "0 101", direction: String = "sendrecv", version: Int = 1) -> [UInt8] {
        let lines = [
            "v=0", "o=pbx 1 \(version) IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 40000 RTP/AVP \(codecs)",
            "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20",
            "a=\(direction)",
        ]
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    private func sdp(_ result: SessionResult, file: StaticString = #filePath, line: UInt = #line) throws -> SessionDescription {
        guard case .sdp(let bytes) = result else {
            XCTFail("expected SDP, got \(result)", file: file, line: line)
            throw CancellationError()
        }
        return try SessionDescription(parsing: String(decoding: bytes, as: UTF8.self))
    }

    private func attribute(_ name: String, in description: SessionDescription) -> [String] {
        description.media.first { $0.media == "audio" }?.attributes.filter { $0.name == name }.compactMap(\.value) ?? []
    }

    private func waitForPorts(_ sessions: MediaSessions, free expected: Int) async throws {
        for _ in 0..<100 where sessions.portUsage["default"]?.free != expected { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertEqual(sessions.portUsage["default"]?.free, expected)
    }

    // MARK: Calls from browsers

    func testBrowserOfferingPCMUIsRelayedToAPCMUTrunk() async throws {
        let sessions = try sessions()
        let capacity = try XCTUnwrap(sessions.portUsage["default"]?.capacity)
        let trunkOffer = try sdp(sessions.offer(Self.browserOffer(), call: "c1", from: .web, trunk: "pbx"))
        let audio = try XCTUnwrap(trunkOffer.media.first)
        XCTAssertEqual(trunkOffer.media.count, 1)
        XCTAssertEqual(audio.proto, "RTP/AVP")
        XCTAssertEqual(audio.formats, ["0", "8", "101"])
        XCTAssertTrue((22000...22099).contains(audio.port) && audio.port % 2 == 0)

        let answer = try sdp(sessions.answer(Self.trunkSDP(), call: "c1", from: .trunk))
        XCTAssertEqual(answer.media.count, 2, "one answer m-line per offered one")
        XCTAssertEqual(answer.media[1].port, 0, "video rejected")
        XCTAssertEqual(answer.media[0].formats, ["0", "126"], "PCMU relayed, with telephone-event at its clock")
        XCTAssertEqual(attribute("setup", in: answer), ["passive"])
        XCTAssertTrue(answer.attributes.contains { $0.name == "ice-lite" })
        XCTAssertEqual(attribute("fingerprint", in: answer).first?.hasPrefix("sha-256 "), true)
        XCTAssertFalse(attribute("ssrc", in: answer).isEmpty, "Chrome needs a=ssrc with cname")
        XCTAssertEqual(sessions.counters.relayedCalls, 1)
        XCTAssertEqual(sessions.counters.transcodedCalls, 0)
        for _ in 0..<100 where sessions.activeMedia == 0 { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertEqual(sessions.activeMedia, 1)

        sessions.release(call: "c1")
        try await waitForPorts(sessions, free: capacity)
        XCTAssertEqual(sessions.activeMedia, 0)
    }

    func testOpusOnlyBrowserIsTranscodedAndToldToSendNarrowband() throws {
        let sessions = try sessions()
        _ = try sdp(sessions.offer(Self.browserOffer(codecs: "111 110"), call: "c2", from: .web, trunk: "pbx"))
        let answer = try sdp(sessions.answer(Self.trunkSDP(), call: "c2", from: .trunk))
        XCTAssertEqual(answer.media[0].formats, ["111", "110"])
        let fmtp = try XCTUnwrap(attribute("fmtp", in: answer).first { $0.hasPrefix("111 ") })
        XCTAssertTrue(fmtp.contains("maxplaybackrate=8000") && fmtp.contains("sprop-maxcapturerate=8000"), fmtp)
        XCTAssertEqual(sessions.counters.transcodedCalls, 1)
        sessions.release(call: "c2")
    }

    func testAnOfferTandemCannotAcceptIsRefusedWithAReasonAndTakesNoPort() throws {
        let sessions = try sessions()
        let free = sessions.portUsage["default"]?.free
        guard case .rejected(let warning) = sessions.offer(Self.browserOffer(fingerprint: false), call: "c3", from: .web, trunk: "pbx") else {
            return XCTFail("an offer without a fingerprint must be refused")
        }
        XCTAssertTrue(warning.contains("fingerprint"), warning)
        guard case .rejected = sessions.offer(Array("garbage".utf8), call: "c4", from: .web, trunk: "pbx") else {
            return XCTFail("unparseable SDP must be refused")
        }
        guard case .rejected(let codecs) = sessions.offer(Self.trunkSDP("18"), call: "c5", from: .trunk, trunk: "pbx") else {
            return XCTFail("no common codec must be refused")
        }
        XCTAssertTrue(codecs.contains("codec"), codecs)
        XCTAssertEqual(sessions.portUsage["default"]?.free, free)
    }

    func testNewCallsAreRefusedWhenThePortPoolIsEmptyAndTheOthersKeepTheirPorts() throws {
        let sessions = try sessions(portMin: 22100, portMax: 22103)  // two pairs: one call
        _ = try sdp(sessions.offer(Self.browserOffer(), call: "first", from: .web, trunk: "pbx"))
        guard case .unavailable(let reason) = sessions.offer(Self.browserOffer(), call: "second", from: .web, trunk: "pbx") else {
            return XCTFail("the second call must be refused")
        }
        XCTAssertTrue(reason.contains("port"), reason)
        XCTAssertEqual(sessions.counters.refusedNoPorts, 1)
        // The first call goes on as if nothing happened.
        _ = try sdp(sessions.answer(Self.trunkSDP(), call: "first", from: .trunk))
        sessions.release(call: "first")
    }

    // MARK: Re-INVITEs

    func testBrowserHoldAndICERestartKeepTheCodecAndReachTheTrunk() throws {
        let sessions = try sessions()
        _ = try sdp(sessions.offer(Self.browserOffer(codecs: "111 110"), call: "c6", from: .web, trunk: "pbx"))
        let first = try sdp(sessions.answer(Self.trunkSDP(), call: "c6", from: .trunk))

        // Hold, with an ICE restart in the same offer.
        let reoffer = try sdp(sessions.offer(Self.browserOffer(codecs: "111 0 110", ufrag: "NewU", direction: "sendonly"), call: "c6",
                                             from: .web, trunk: "pbx"))
        XCTAssertEqual(reoffer.media[0].formats, ["0", "101"], "the trunk keeps PCMU")
        XCTAssertTrue(reoffer.media[0].attributes.contains { $0.name == "sendonly" }, "hold reaches the trunk")
        let answer = try sdp(sessions.answer(Self.trunkSDP(direction: "recvonly", version: 2), call: "c6", from: .trunk))
        XCTAssertEqual(answer.media[0].formats, ["111", "110"], "the browser keeps Opus")
        XCTAssertTrue(answer.media[0].attributes.contains { $0.name == "recvonly" })
        XCTAssertNotEqual(attribute("ice-ufrag", in: answer), attribute("ice-ufrag", in: first), "an ICE restart gets new credentials")
        XCTAssertEqual(attribute("setup", in: answer), ["passive"], "the DTLS role stays")
        XCTAssertEqual(first.origin.sessionID, answer.origin.sessionID)
        XCTAssertGreaterThan(answer.origin.sessionVersion, first.origin.sessionVersion)
        sessions.release(call: "c6")
    }

    func testTrunkReinviteReachesTheBrowserAsAnOfferInTheCurrentDTLSRole() throws {
        let sessions = try sessions()
        _ = try sdp(sessions.offer(Self.browserOffer(), call: "c7", from: .web, trunk: "pbx"))
        let first = try sdp(sessions.answer(Self.trunkSDP(), call: "c7", from: .trunk))
        let webOffer = try sdp(sessions.offer(Self.trunkSDP(direction: "sendonly", version: 2), call: "c7", from: .trunk, trunk: "pbx"))
        XCTAssertEqual(webOffer.media[0].formats.first, "0")
        XCTAssertEqual(attribute("setup", in: webOffer), ["passive"], "no new DTLS handshake")
        XCTAssertTrue(webOffer.media[0].attributes.contains { $0.name == "sendonly" })
        XCTAssertEqual(attribute("ice-ufrag", in: webOffer), attribute("ice-ufrag", in: first))
        // The browser answers (it would say recvonly and setup:active).
        let browserAnswer = String(decoding: Self.browserOffer(codecs: "0 126", direction: "recvonly"), as: UTF8.self)
            .replacingOccurrences(of: "a=setup:actpass", with: "a=setup:active")
            .replacingOccurrences(of: "a=group:BUNDLE 0 1", with: "a=group:BUNDLE 0")
        let trimmed = browserAnswer.components(separatedBy: "m=video")[0]
        let trunkAnswer = try sdp(sessions.answer(Array(trimmed.utf8), call: "c7", from: .web))
        XCTAssertEqual(trunkAnswer.media[0].formats.first, "0")
        XCTAssertTrue(trunkAnswer.media[0].attributes.contains { $0.name == "recvonly" })
        sessions.release(call: "c7")
    }

    // MARK: Calls toward browsers

    func testTrunkCallToABrowserGetsAWebRTCOfferAndAnAnswerInTheBrowsersCodec() throws {
        let sessions = try sessions()
        let webOffer = try sdp(sessions.offer(Self.trunkSDP("0 8 101"), call: "c8", from: .trunk, trunk: "pbx"))
        XCTAssertEqual(webOffer.media.count, 1)
        XCTAssertEqual(webOffer.media[0].proto, "UDP/TLS/RTP/SAVPF")
        XCTAssertEqual(attribute("setup", in: webOffer), ["actpass"])
        XCTAssertEqual(webOffer.media[0].formats.first, "111", "Opus first, as the web profile says")
        let fmtp = try XCTUnwrap(attribute("fmtp", in: webOffer).first { $0.hasPrefix("111 ") })
        XCTAssertTrue(fmtp.contains("maxplaybackrate=8000"), "a G.711 trunk: narrowband is enough")

        // The browser (aiortc-like) answers PCMA: the trunk is answered PCMA, relayed.
        let answer = [
            "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0", "m=audio 9 UDP/TLS/RTP/SAVPF 8", "c=IN IP4 127.0.0.1",
            "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "a=ice-ufrag:abcd", "a=ice-pwd:0123456789abcdefghijkl",
            "a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F",
            "a=setup:active", "a=mid:0", "a=sendrecv", "a=rtcp-mux", "a=rtpmap:8 PCMA/8000",
        ].joined(separator: "\r\n") + "\r\n"
        let trunkAnswer = try sdp(sessions.answer(Array(answer.utf8), call: "c8", from: .web))
        XCTAssertEqual(trunkAnswer.media[0].formats, ["8", "101"])
        XCTAssertEqual(sessions.counters.relayedCalls, 1)
        sessions.release(call: "c8")
    }

    func testAnIPv6MediaInterfaceGivesIPv6CandidatesAndConnectionLines() throws {
        let sessions = try sessions(address: "::1")
        let trunkOffer = try sdp(sessions.offer(Self.browserOffer(), call: "v6", from: .web, trunk: "pbx"))
        XCTAssertEqual(trunkOffer.connection?.addressType, "IP6")
        XCTAssertEqual(trunkOffer.connection?.address, "::1")
        let answer = try sdp(sessions.answer(Self.trunkSDP(), call: "v6", from: .trunk))
        let candidates = attribute("candidate", in: answer)
        XCTAssertEqual(candidates.count, 1)
        XCTAssertTrue(candidates[0].contains(" ::1 "), candidates[0])
        XCTAssertEqual(answer.connection?.addressType, "IP6")
        sessions.release(call: "v6")
    }
}
