// Test support: a SIP over WebSocket client (RFC 7118), standing in for a browser's SIP stack
// (JsSIP, SIP.js) in end-to-end tests: it upgrades with the `sip` subprotocol and sends and
// receives one SIP message per text frame.

import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import SIP

/// A WebSocket client connection upgraded with the `sip` subprotocol (NIOWebSocketClientUpgrader),
/// giving raw frames: for transport tests that send fragments or close codes.
public struct WebSocketTestConnection: Sendable {
    public let channel: any Channel
    public let frames: Inbox<WebSocketFrame>
    public let response: HTTPResponseHead

    /// Connects to ws://127.0.0.1:`port` and upgrades.
    public static func connect(port: Int, group: any EventLoopGroup) async throws -> WebSocketTestConnection {
        let loop = group.next()
        let frames = Inbox<WebSocketFrame>(eventLoop: loop)
        let upgraded = loop.makePromise(of: HTTPResponseHead.self)
        // A refused connection (a daemon still starting) must still complete the promise.
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let upgrader = NIOWebSocketClientUpgrader(
                            maxFrameSize: 1 << 16, automaticErrorHandling: false,
                            upgradePipelineHandler: { channel, response in
                                channel.eventLoop.makeCompletedFuture {
                                    try channel.pipeline.syncOperations.addHandler(InboxHandler<WebSocketFrame>(frames))
                                    upgraded.succeed(response)
                                }
                            })
                        try channel.pipeline.syncOperations.addHTTPClientHandlers(withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    }
                }
                .connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port)).get()
        } catch {
            upgraded.fail(error)
            throw error
        }
        let headers = HTTPHeaders([("Host", "127.0.0.1:\(port)"), ("Sec-WebSocket-Protocol", "sip"), ("Content-Length", "0")])
        loop.scheduleTask(in: .seconds(5)) { upgraded.fail(TestTimeout(what: "the WebSocket upgrade")) }
        // Head and end in one go: the server may answer 101 as soon as it has the head, after which
        // the client pipeline takes only frames.
        try await loop.flatSubmit {
            channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: headers)), promise: nil)
            return channel.writeAndFlush(HTTPClientRequestPart.end(nil))
        }.get()
        let response = try await upgraded.futureResult.get()
        return WebSocketTestConnection(channel: channel, frames: frames, response: response)
    }

    public func send(_ text: String, opcode: WebSocketOpcode = .text, fin: Bool = true) async throws {
        let frame = WebSocketFrame(fin: fin, opcode: opcode, maskKey: .random(), data: ByteBuffer(string: text))
        try await channel.writeAndFlush(frame).get()
    }

    public func send(code: WebSocketErrorCode, opcode: WebSocketOpcode) async throws {
        var data = ByteBuffer()
        data.write(webSocketErrorCode: code)
        try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)).get()
    }
}

public struct SIPWebSocketClient: Sendable {
    private let connection: WebSocketTestConnection
    public var channel: any Channel { connection.channel }

    /// Connects to ws://127.0.0.1:`port` and upgrades.
    public static func connect(port: Int, group: any EventLoopGroup) async throws -> SIPWebSocketClient {
        SIPWebSocketClient(connection: try await WebSocketTestConnection.connect(port: port, group: group))
    }

    public func send(_ message: SIPMessage) async throws {
        try await connection.send(String(decoding: message.serialized(), as: UTF8.self))
    }

    public func send(_ request: SIPRequest) async throws { try await send(.request(request)) }
    public func send(_ response: SIPResponse) async throws { try await send(.response(response)) }

    /// The next SIP message from the gateway.
    public func next(timeout: TimeAmount = .seconds(10)) async throws -> SIPMessage {
        while true {
            let frame = try await connection.frames.next(timeout: timeout)
            guard frame.opcode == .text || frame.opcode == .binary else { continue }
            return try SIPParser.parse(frame.unmaskedData.readableBytesView)
        }
    }

    /// The next response, skipping requests (and failing on timeout).
    public func nextResponse(timeout: TimeAmount = .seconds(10)) async throws -> SIPResponse {
        while true {
            if case .response(let response) = try await next(timeout: timeout) { return response }
        }
    }

    /// The next request, skipping responses.
    public func nextRequest(timeout: TimeAmount = .seconds(10)) async throws -> SIPRequest {
        while true {
            if case .request(let request) = try await next(timeout: timeout) { return request }
        }
    }

    public func close() async { try? await channel.close() }
}
