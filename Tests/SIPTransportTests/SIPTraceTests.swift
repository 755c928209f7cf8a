// The SIP trace's view of a message (start line, Call-ID, users) and its filter; and the tracer
// on a real transport layer: a message received and one sent over UDP reach a HEP listener with
// the right direction, addresses and Call-ID, and nothing is traced while the trace is off.

import Foundation
import Logging
import NIOCore
import NIOPosix
import SIP
import XCTest

@testable import SIPTransport

final class SIPTraceTests: XCTestCase {
    static let invite = """
        INVITE sip:3000@gw.example;transport=udp SIP/2.0\r
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r
        f: "Alice" <sip:1001@example.com>;tag=a\r
        To: <sip:3000@gw.example>\r
        i: call-1@host\r
        CSeq: 1 INVITE\r
        Content-Length: 0\r
        \r

        """

    func testSummaryReadsStartLineCallIDAndUsersIncludingCompactForms() {
        let summary = SIPTraceSummary(scanning: ByteBuffer(string: Self.invite))
        XCTAssertEqual(summary, SIPTraceSummary(firstLine: "INVITE", callID: "call-1@host", requestUser: "3000", fromUser: "1001", toUser: "3000"))
        let response = SIPTraceSummary(scanning: ByteBuffer(string: "SIP/2.0 180 Ringing\r\nCall-ID: x\r\nFrom: sip:bob@b;tag=1\r\nTo: <tel:+4930123>\r\n\r\n"))
        XCTAssertEqual(response, SIPTraceSummary(firstLine: "180 Ringing", callID: "x", requestUser: nil, fromUser: "bob", toUser: "+4930123"))
        XCTAssertEqual(SIPTraceSummary(scanning: ByteBuffer(string: "garbage")).callID, nil)
        XCTAssertEqual(SIPTraceSummary.user(inURI: "<sip:gw.example>"), nil)
        XCTAssertEqual(SIPTraceSummary.user(inURI: "<sips:alice:pw@example.com>"), "alice")
    }

    func testFilterKeepsOneCallOrOneUser() {
        let summary = SIPTraceSummary(scanning: ByteBuffer(string: Self.invite))
        XCTAssertTrue(SIPTraceFilter().matches(summary))
        XCTAssertTrue(SIPTraceFilter(callID: "call-1@host").matches(summary))
        XCTAssertFalse(SIPTraceFilter(callID: "call-2@host").matches(summary))
        XCTAssertTrue(SIPTraceFilter(user: "1001").matches(summary))
        XCTAssertTrue(SIPTraceFilter(user: "3000").matches(summary))
        XCTAssertFalse(SIPTraceFilter(user: "1002").matches(summary))
        XCTAssertFalse(SIPTraceFilter(callID: "call-1@host", user: "1002").matches(summary))
        XCTAssertEqual(SIPTraceFilter(callID: "", user: ""), SIPTraceFilter())
    }

    func testUDPMessagesInAndOutReachTheHEPListenerOnlyWhileTraceIsOn() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let logger = Logger(label: "test")
        let hep = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let inbox = HEPInbox()
        try await hep.pipeline.addHandler(inbox)
        let tracer = SIPTracer(group: group, logger: logger)
        var options = SIPTransportOptions()
        options.tracer = tracer
        let layer = try await SIPTransportLayer.start([SIPListenerSpec(transport: .udp, address: "127.0.0.1", port: 0)],
                                                      group: group, logger: logger, options: options)
        let port = layer.bound[0].port
        let peer = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let tandem = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        var events = layer.events.makeAsyncIterator()

        // Off: a message in, nothing traced.
        try await peer.writeAndFlush(AddressedEnvelope(remoteAddress: tandem, data: ByteBuffer(string: Self.invite)))
        _ = await events.next()
        XCTAssertEqual(tracer.counters.traced, 0)

        tracer.apply(SIPTracer.Settings(enabled: true, log: false, hep: SIPTracer.HEPTarget(
            address: "127.0.0.1", port: hep.localAddress!.port!, captureID: 9, password: "pw")))
        try await peer.writeAndFlush(AddressedEnvelope(remoteAddress: tandem, data: ByteBuffer(string: Self.invite)))
        _ = await events.next()
        try await layer.send(ByteBuffer(string: "SIP/2.0 100 Trying\r\nCall-ID: call-1@host\r\n\r\n"), to: .address(.udp, peer.localAddress!))
        let packets = try await inbox.wait(count: 2)
        guard packets.count == 2 else { return XCTFail("HEP packets: \(packets.count) of 2") }
        let peerPort = UInt16(peer.localAddress!.port!)

        XCTAssertEqual(packets[0].chunks[7], [UInt8(peerPort >> 8), UInt8(peerPort & 0xff)], "received: source is the peer")
        XCTAssertEqual(packets[0].chunks[8], [UInt8(port >> 8), UInt8(port & 0xff)], "received: destination is Tandem")
        XCTAssertEqual(packets[1].chunks[7], [UInt8(port >> 8), UInt8(port & 0xff)], "sent: source is Tandem")
        XCTAssertEqual(packets[1].chunks[8], [UInt8(peerPort >> 8), UInt8(peerPort & 0xff)])
        for packet in packets {
            XCTAssertEqual(packet.chunks[1], [2])
            XCTAssertEqual(packet.chunks[2], [17])
            XCTAssertEqual(packet.chunks[3], [127, 0, 0, 1])
            XCTAssertEqual(packet.chunks[12], [0, 0, 0, 9])
            XCTAssertEqual(packet.chunks[14], Array("pw".utf8))
            XCTAssertEqual(packet.chunks[17], Array("call-1@host".utf8))
        }
        XCTAssertEqual(packets[1].chunks[15], Array("SIP/2.0 100 Trying\r\nCall-ID: call-1@host\r\n\r\n".utf8))

        // A filter for another call: nothing more.
        tracer.apply(SIPTracer.Settings(enabled: true, filter: SIPTraceFilter(callID: "other"), log: false, hep: tracer.settings.hep))
        try await peer.writeAndFlush(AddressedEnvelope(remoteAddress: tandem, data: ByteBuffer(string: Self.invite)))
        _ = await events.next()
        await layer.close()
        await tracer.close()
        XCTAssertEqual(tracer.counters.traced, 2)
        XCTAssertEqual(tracer.counters.hepDropped, 0)
        try await peer.close()
        try await hep.close()
        try await group.shutdownGracefully()
    }
}

/// Collects HEP datagrams, split into their chunks by type.
final class HEPInbox: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    struct Packet { var chunks: [UInt16: [UInt8]] }

    private var packets: [Packet] = []
    private var waiting: (count: Int, continuation: CheckedContinuation<[Packet], any Error>)?
    private let lock = NSLock()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).data.readableBytesView)
        var chunks: [UInt16: [UInt8]] = [:]
        var position = 6
        while position + 6 <= bytes.count {
            let type = UInt16(bytes[position + 2]) << 8 | UInt16(bytes[position + 3])
            let length = Int(bytes[position + 4]) << 8 | Int(bytes[position + 5])
            guard length >= 6, position + length <= bytes.count else { break }
            chunks[type] = Array(bytes[(position + 6)..<(position + length)])
            position += length
        }
        lock.withLock {
            packets.append(Packet(chunks: chunks))
            if let waiting, packets.count >= waiting.count {
                self.waiting = nil
                waiting.continuation.resume(returning: packets)
            }
        }
    }

    /// The packets once `count` have come, or what came within five seconds.
    func wait(count: Int) async throws -> [Packet] {
        try await withCheckedThrowingContinuation { continuation in
            lock.withLock {
                if packets.count >= count { continuation.resume(returning: packets) } else { waiting = (count, continuation) }
            }
            Task {
                try? await Task.sleep(for: .seconds(5))
                self.lock.withLock {
                    guard let waiting = self.waiting else { return }
                    self.waiting = nil
                    waiting.continuation.resume(returning: self.packets)
                }
            }
        }
    }
}
