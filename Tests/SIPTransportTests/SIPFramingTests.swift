// Tests of the sans-IO SIP framing (RFC 3261 §18.3, RFC 5626 §4.4.1) and of its NIO decoder on an
// EmbeddedChannel.

import NIOCore
import NIOEmbedded
@testable import SIPTransport
import TandemTestSupport
import XCTest

private func options(body: String = "", contentLength: String? = nil, header: String = "Content-Length") -> String {
    let length = contentLength ?? "\(body.utf8.count)"
    return "OPTIONS sip:gw.example.com SIP/2.0\r\n"
        + "Via: SIP/2.0/TCP client.example.com;branch=z9hG4bK776asdhds\r\n"
        + "Call-ID: a84b4c76e66710\r\n"
        + "\(header): \(length)\r\n"
        + "\r\n" + body
}

final class SIPStreamFramerTests: XCTestCase {
    /// Feeds the chunks one by one and collects every frame the framer yields.
    private func frames(_ chunks: [String], limit: Int = SIPStreamFramer.defaultMaximumMessageSize) throws -> [SIPStreamFramer.Frame] {
        var framer = SIPStreamFramer(maximumMessageSize: limit)
        var buffer = ByteBuffer()
        var result: [SIPStreamFramer.Frame] = []
        for chunk in chunks {
            buffer.writeString(chunk)
            while let frame = try framer.next(from: &buffer) { result.append(frame) }
        }
        return result
    }

    private func messages(_ frames: [SIPStreamFramer.Frame]) -> [String] {
        frames.compactMap { if case .message(let bytes) = $0 { return String(buffer: bytes) } else { return nil } }
    }

    func testWholeMessageWithBody() throws {
        let message = options(body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n")
        XCTAssertEqual(messages(try frames([message])), [message])
    }

    func testMessageSplitAtEveryByte() throws {
        let message = options(body: "hello body")
        let chunks = message.map { String($0) }
        XCTAssertEqual(messages(try frames(chunks)), [message])
    }

    func testSplitInsideHeaderTerminatorAndBody() throws {
        let message = options(body: "0123456789")
        let terminator = message.range(of: "\r\n\r\n")!.lowerBound
        let cut1 = message.distance(from: message.startIndex, to: terminator) + 2
        let cut2 = message.utf8.count - 4
        let bytes = Array(message.utf8)
        let chunks = [bytes[..<cut1], bytes[cut1..<cut2], bytes[cut2...]].map { String(decoding: $0, as: UTF8.self) }
        XCTAssertEqual(messages(try frames(chunks)), [message])
    }

    func testTwoMessagesInOneChunkAndBodyBytesAreNotHeaders() throws {
        // The first body contains a CRLFCRLF; it must be counted, not taken for a header end.
        let first = options(body: "a\r\n\r\nb")
        let second = options()
        XCTAssertEqual(messages(try frames([first + second])), [first, second])
    }

    func testMessageAndHalfThenRest() throws {
        let first = options(body: "x")
        let second = options(body: "yz")
        let joined = first + second
        let split = joined.utf8.count - 5
        let bytes = Array(joined.utf8)
        let result = try frames([String(decoding: bytes[..<split], as: UTF8.self), String(decoding: bytes[split...], as: UTF8.self)])
        XCTAssertEqual(messages(result), [first, second])
    }

    func testCompactAndCaseInsensitiveContentLength() throws {
        for header in ["l", "L", "content-length", "CONTENT-LENGTH", "Content-Length  ", "l\t"] {
            let message = options(body: "12345", header: header)
            XCTAssertEqual(messages(try frames([message])), [message], header)
        }
        let spaced = options(body: "12345", contentLength: "  5  ")
        XCTAssertEqual(messages(try frames([spaced])), [spaced])
    }

    func testFoldedHeaderLinesAndSimilarNamesAreSkipped() throws {
        let message = "MESSAGE sip:a@example.com SIP/2.0\r\n"
            + "Subject: a long subject\r\n"
            + " l: 999 folded, not a header\r\n"
            + "Content-Lengthy: 7\r\n"
            + "l: 3\r\n\r\nabc"
        XCTAssertEqual(messages(try frames([message])), [message])
    }

    func testKeepAlivePingAndLoneCRLF() throws {
        let message = options()
        // A lone CRLF before a message is ignored; a double CRLF is a ping, even split in two reads.
        let result = try frames(["\r\n", message, "\r\n\r\n", "\r", "\n", "\r\n", message])
        XCTAssertEqual(result, [.message(ByteBuffer(string: message)), .keepAlivePing, .keepAlivePing, .message(ByteBuffer(string: message))])
    }

    func testMissingContentLengthIsAnError() {
        let message = "OPTIONS sip:gw SIP/2.0\r\nCall-ID: x\r\n\r\n"
        XCTAssertThrowsError(try frames([message])) { error in
            XCTAssertEqual(error as? SIPStreamFramer.FramingError, .missingContentLength)
        }
    }

    func testInvalidOrConflictingContentLengthIsAnError() {
        for bad in [options(contentLength: "abc"), options(contentLength: "-1"), options(contentLength: "1 2"), options(contentLength: "")] {
            XCTAssertThrowsError(try frames([bad])) { error in
                XCTAssertEqual(error as? SIPStreamFramer.FramingError, .invalidContentLength)
            }
        }
        let conflicting = "OPTIONS sip:gw SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab"
        XCTAssertThrowsError(try frames([conflicting]))
    }

    func testOversizeDeclaredBodyIsRefusedBeforeItArrives() {
        let head = options(contentLength: "70000")
        XCTAssertThrowsError(try frames([head])) { error in
            XCTAssertEqual(error as? SIPStreamFramer.FramingError, .messageTooLarge(limit: 65_536))
        }
        XCTAssertThrowsError(try frames([options(contentLength: "99999999999999999999999")]))
    }

    func testEndlessHeadersAreRefusedAtTheLimit() throws {
        var framer = SIPStreamFramer(maximumMessageSize: 1024)
        var buffer = ByteBuffer(string: "INVITE sip:a SIP/2.0\r\n")
        XCTAssertNil(try framer.next(from: &buffer))
        var failed = false
        for _ in 0..<100 {
            buffer.writeString("X-Filler: 0123456789012345678901234567890123456789\r\n")
            do {
                _ = try framer.next(from: &buffer)
            } catch {
                XCTAssertEqual(error, .messageTooLarge(limit: 1024))
                failed = true
                break
            }
        }
        XCTAssertTrue(failed)
    }

    func testMessageExactlyAtTheLimitPasses() throws {
        let bodyLength = (0...512).first { options(body: String(repeating: "b", count: $0)).utf8.count == 512 }!
        let message = options(body: String(repeating: "b", count: bodyLength))
        XCTAssertEqual(message.utf8.count, 512)
        XCTAssertEqual(messages(try frames([message], limit: 512)), [message])
        XCTAssertThrowsError(try frames([options(body: String(repeating: "b", count: bodyLength + 1))], limit: 512))
    }
}

final class SIPDatagramFramingTests: XCTestCase {
    private func verdict(_ text: String) -> SIPDatagramFraming.Verdict { SIPDatagramFraming.frame(ByteBuffer(string: text)) }

    func testWholeDatagramWithoutContentLength() {
        let message = "OPTIONS sip:gw SIP/2.0\r\nCall-ID: x\r\n\r\nbody"
        XCTAssertEqual(verdict(message), .message(ByteBuffer(string: message)))
    }

    func testContentLengthTrimsAndShortBodyDrops() {
        XCTAssertEqual(verdict(options(body: "abc") + "trailing junk"), .message(ByteBuffer(string: options(body: "abc"))))
        guard case .dropped = verdict(options(contentLength: "10") + "abc") else { return XCTFail("short body accepted") }
    }

    func testKeepAliveAndGarbage() {
        XCTAssertEqual(verdict("\r\n\r\n"), .keepAlive)
        XCTAssertEqual(verdict(""), .keepAlive)
        guard case .dropped = verdict("\u{0}\u{1}\u{0}\u{8}stun"), case .dropped = verdict("INVITE with no end of headers") else {
            return XCTFail("garbage accepted")
        }
        XCTAssertEqual(verdict("\r\n" + options()), .message(ByteBuffer(string: options())))
    }
}

final class SIPStreamFrameDecoderTests: XCTestCase {
    func testDecoderSplitsAnswersPingAndFailsOnBadFraming() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(SIPStreamFrameDecoder(maximumMessageSize: 1024)))
        let first = options(body: "one")
        let second = options(body: "two!")
        let stream = first + "\r\n\r\n" + second
        let bytes = Array(stream.utf8)
        try channel.writeInbound(ByteBuffer(bytes: bytes[..<20]))
        XCTAssertNil(try channel.readInbound(as: ByteBuffer.self))
        try channel.writeInbound(ByteBuffer(bytes: bytes[20...]))
        XCTAssertEqual(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) }, first)
        XCTAssertEqual(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) }, second)
        XCTAssertNil(try channel.readInbound(as: ByteBuffer.self))
        XCTAssertEqual(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }, "\r\n")

        XCTAssertThrowsError(try channel.writeInbound(ByteBuffer(string: "BYE sip:x SIP/2.0\r\n\r\n"))) { error in
            XCTAssertEqual(error as? SIPStreamFramer.FramingError, .missingContentLength)
        }
        _ = try? channel.finish()
    }
}
