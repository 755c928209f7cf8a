// Loopback tests of SIP over WebSocket (RFC 7118) on a `ws` listener: the `sip` subprotocol
// upgrade, one SIP message per frame both ways, fragments (joined, and refused with 1009 or 1002
// when too large, too many, out of order or unmasked), ping/pong, close, refusal of an upgrade
// without the subprotocol, and plain HTTP requests reaching the caller's responder.

import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import SIP
import SIPTransport
import TandemTestSupport
import XCTest

final class WebSocketTransportTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!

    override func setUp() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    }

    override func tearDown() async throws {
        try await group.shutdownGracefully()
    }

    private func start(responder: SIPHTTPResponder? = nil, maximumMessageSize: Int? = nil) async throws -> SIPTransportLayer {
        var options = SIPTransportOptions()
        if let maximumMessageSize { options.maximumMessageSize = maximumMessageSize }
        return try await SIPTransportLayer.start(
            [SIPListenerSpec(transport: .ws, address: "127.0.0.1", port: 0)], group: group, logger: testLogger(),
            httpResponder: responder, options: options)
    }

    /// The close frame the server sends, its status code, and the connection closing after it.
    private func closeCode(of client: WebSocketTestConnection) async throws -> WebSocketErrorCode? {
        let close = try await client.frames.next()
        XCTAssertEqual(close.opcode, .connectionClose)
        var data = close.unmaskedData
        try await waitForClose(client.channel)
        return data.readWebSocketErrorCode()
    }

    private func connectWebSocket(port: Int) async throws -> WebSocketTestConnection {
        try await WebSocketTestConnection.connect(port: port, group: group)
    }

    func testSIPOverWebSocketBothWays() async throws {
        let layer = try await start()
        let events = EventCollector(layer)
        let client = try await connectWebSocket(port: layer.bound[0].port)
        XCTAssertEqual(client.response.status, .switchingProtocols)
        XCTAssertEqual(client.response.headers["Sec-WebSocket-Protocol"], ["sip"])

        let request = sipMessage("REGISTER", transport: "WS")
        try await client.send(request)
        let message = try await events.nextMessage()
        XCTAssertEqual(String(buffer: message.bytes), request)
        XCTAssertEqual(message.transport, .ws)
        XCTAssertEqual(message.source, client.channel.localAddress)
        let id = try XCTUnwrap(message.connection)

        let reply = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        try await layer.send(ByteBuffer(string: reply), to: .connection(id))
        let frame = try await client.frames.next()
        XCTAssertEqual(frame.opcode, .text)
        XCTAssertTrue(frame.fin)
        XCTAssertEqual(String(buffer: frame.unmaskedData), reply)

        // A fragmented message is reassembled into one SIP message; a binary frame works too.
        let invite = sipMessage("INVITE", transport: "WS", body: "v=0\r\n")
        let half = invite.utf8.count / 2
        try await client.send(String(invite.utf8.prefix(half))!, opcode: .binary, fin: false)
        try await client.send(String(invite.utf8.dropFirst(half))!, opcode: .continuation, fin: true)
        let reassembled = try await events.nextMessage()
        XCTAssertEqual(String(buffer: reassembled.bytes), invite)
        XCTAssertEqual(reassembled.connection, id)

        try await client.send("are you there", opcode: .ping)
        let pong = try await client.frames.next()
        XCTAssertEqual(pong.opcode, .pong)
        XCTAssertEqual(String(buffer: pong.unmaskedData), "are you there")

        try await client.send(code: .normalClosure, opcode: .connectionClose)
        let closeReply = try await client.frames.next()
        XCTAssertEqual(closeReply.opcode, .connectionClose)
        var closeData = closeReply.unmaskedData
        XCTAssertEqual(closeData.readWebSocketErrorCode(), .normalClosure)
        try await waitForClose(client.channel)
        guard case .connectionClosed(let closed, .ws) = try await events.next() else { return XCTFail("no connectionClosed") }
        XCTAssertEqual(closed, id)
        await layer.close()
    }

    func testProtocolViolationClosesOnlyThatWebSocket() async throws {
        let layer = try await start()
        let events = EventCollector(layer)
        let bad = try await connectWebSocket(port: layer.bound[0].port)
        let good = try await connectWebSocket(port: layer.bound[0].port)

        try await bad.send("orphan continuation", opcode: .continuation)
        let close = try await bad.frames.next()
        XCTAssertEqual(close.opcode, .connectionClose)
        var closeData = close.unmaskedData
        XCTAssertEqual(closeData.readWebSocketErrorCode(), .protocolError)
        try await waitForClose(bad.channel)
        guard case .connectionClosed = try await events.next() else { return XCTFail("no connectionClosed") }

        try await good.send(sipMessage("OPTIONS", transport: "WS"))
        let message = try await events.nextMessage()
        XCTAssertEqual(String(buffer: message.bytes), sipMessage("OPTIONS", transport: "WS"))
        try await good.channel.close()
        await layer.close()
    }

    func testAMessageInSeveralFragmentsWithAPingBetweenIsOneSIPMessage() async throws {
        let layer = try await start()
        let events = EventCollector(layer)
        let client = try await connectWebSocket(port: layer.bound[0].port)
        let invite = sipMessage("INVITE", transport: "WS", body: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n")
        let bytes = Array(invite.utf8)
        let size = bytes.count / 5 + 1
        let parts = stride(from: 0, to: bytes.count, by: size).map { String(decoding: bytes[$0..<min($0 + size, bytes.count)], as: UTF8.self) }
        XCTAssertEqual(parts.count, 5)
        for (index, part) in parts.enumerated() {
            try await client.send(part, opcode: index == 0 ? .text : .continuation, fin: index == parts.count - 1)
            // Control frames may come between a message's fragments (RFC 6455 §5.4).
            if index == 2 { try await client.send("mid-message", opcode: .ping) }
        }
        let pong = try await client.frames.next()
        XCTAssertEqual(pong.opcode, .pong)
        XCTAssertEqual(String(buffer: pong.unmaskedData), "mid-message")
        let message = try await events.nextMessage()
        XCTAssertEqual(String(buffer: message.bytes), invite)
        // The connection takes the next message, whole, as usual.
        try await client.send(sipMessage("OPTIONS", transport: "WS"))
        let next = try await events.nextMessage()
        XCTAssertEqual(String(buffer: next.bytes), sipMessage("OPTIONS", transport: "WS"))
        try await client.channel.close()
        await layer.close()
    }

    func testAFragmentedMessageOverTheSizeLimitIsClosedWith1009() async throws {
        let layer = try await start(maximumMessageSize: 1_000)
        let events = EventCollector(layer)
        let client = try await connectWebSocket(port: layer.bound[0].port)
        try await client.send(String(repeating: "a", count: 400), opcode: .text, fin: false)
        try await client.send(String(repeating: "b", count: 400), opcode: .continuation, fin: false)
        try await client.send(String(repeating: "c", count: 400), opcode: .continuation, fin: true)
        let code = try await closeCode(of: client)
        XCTAssertEqual(code, .messageTooLarge)
        // Closed with nothing delivered.
        guard case .connectionClosed = try await events.next() else { return XCTFail("no connectionClosed") }

        // Exactly the limit, in pieces, is one message.
        let other = try await connectWebSocket(port: layer.bound[0].port)
        let filled = { (size: Int) in sipMessage("OPTIONS", transport: "WS", body: String(repeating: "x", count: size)) }
        let request = filled((0...).first { filled($0).utf8.count >= 1_000 }!)
        XCTAssertEqual(request.utf8.count, 1_000)
        let bytes = Array(request.utf8)
        try await other.send(String(decoding: bytes[..<500], as: UTF8.self), opcode: .binary, fin: false)
        try await other.send(String(decoding: bytes[500...], as: UTF8.self), opcode: .continuation, fin: true)
        let joined = try await events.nextMessage()
        XCTAssertEqual(String(buffer: joined.bytes), request)
        try await other.channel.close()
        await layer.close()
    }

    func testAMessageInTooManyFragmentsIsClosedWith1009() async throws {
        let layer = try await start()
        let client = try await connectWebSocket(port: layer.bound[0].port)
        try await client.send("O", opcode: .text, fin: false)
        // The server closes part way through: later sends may fail.
        for _ in 0..<200 { try? await client.send("P", opcode: .continuation, fin: false) }
        let code = try await closeCode(of: client)
        XCTAssertEqual(code, .messageTooLarge)
        await layer.close()
    }

    func testANewMessageInsideAFragmentedOneIsClosedWith1002() async throws {
        let layer = try await start()
        let client = try await connectWebSocket(port: layer.bound[0].port)
        try await client.send("OPTIONS sip:gw", opcode: .text, fin: false)
        try await client.send(sipMessage("OPTIONS", transport: "WS"), opcode: .text, fin: true)
        let code = try await closeCode(of: client)
        XCTAssertEqual(code, .protocolError)
        await layer.close()
    }

    func testAnUnmaskedFragmentIsClosedWith1002() async throws {
        let layer = try await start()
        let events = EventCollector(layer)
        let client = try await connectWebSocket(port: layer.bound[0].port)
        let request = sipMessage("OPTIONS", transport: "WS")
        try await client.send(String(request.utf8.prefix(10))!, opcode: .text, fin: false)
        // Client frames must be masked (RFC 6455 §5.1), the last fragment of a message too.
        let unmasked = WebSocketFrame(fin: true, opcode: .continuation, data: ByteBuffer(string: String(request.utf8.dropFirst(10))!))
        try await client.channel.writeAndFlush(unmasked).get()
        let code = try await closeCode(of: client)
        XCTAssertEqual(code, .protocolError)
        let quiet = try await events.noMessages()
        XCTAssertTrue(quiet)
        await layer.close()
    }

    func testUpgradeWithoutSIPSubprotocolIsRefused() async throws {
        let layer = try await start()
        let events = EventCollector(layer)
        let client = try await StreamTestClient.connect(to: try loopback(layer.bound[0].port), group: group)
        try await client.write(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Protocol: chat\r\n\r\n")
        let response = try await client.readToClose()
        XCTAssertTrue(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), response)
        XCTAssertTrue(response.contains("sip"), response)
        let quiet = try await events.noMessages()
        XCTAssertTrue(quiet)
        await layer.close()
    }

    func testPlainGETReachesTheResponder() async throws {
        let layer = try await start(responder: { head in
            guard head.uri == "/healthz" else { return (.notFound, HTTPHeaders(), ByteBuffer(string: "no\n")) }
            return (.ok, HTTPHeaders([("Content-Type", "text/plain")]), ByteBuffer(string: "ok\n"))
        })
        let client = try await StreamTestClient.connect(to: try loopback(layer.bound[0].port), group: group)
        try await client.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let response = try await client.readToClose()
        XCTAssertTrue(response.hasPrefix("HTTP/1.1 200 OK\r\n"), response)
        XCTAssertTrue(response.hasSuffix("\r\n\r\nok\n"), response)
        await layer.close()
    }

    func testPlainGETWithoutResponderIs404() async throws {
        let layer = try await start()
        let client = try await StreamTestClient.connect(to: try loopback(layer.bound[0].port), group: group)
        try await client.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let response = try await client.readToClose()
        XCTAssertTrue(response.hasPrefix("HTTP/1.1 404 Not Found\r\n"), response)
        await layer.close()
    }
}
