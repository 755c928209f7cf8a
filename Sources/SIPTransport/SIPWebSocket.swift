// SIP over WebSocket (RFC 7118) on the `ws` and `wss` listeners: the HTTP/1.1 server pipeline,
// the upgrade that requires the `sip` subprotocol (RFC 7118 §4, RFC 6455 §4.2.2), the frame handler
// that makes each text or binary message one SIP message (RFC 7118 §5) and follows RFC 6455 §5.4
// (fragments reassembled up to the message size limit, by NIOWebSocketFrameAggregator), §5.5
// (ping, pong, close) and §5.1/§5.2 (client frames masked, no extension bits), and the responder
// for plain HTTP requests on the same port.

import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import SIP

/// Answers a plain HTTP request on a WebSocket listener. Runs on the event loop: keep it quick.
public typealias SIPHTTPResponder = @Sendable (HTTPRequestHead) -> (HTTPResponseStatus, HTTPHeaders, ByteBuffer)

enum SIPWebSocketPipeline {
    static let responderName = "sip-http-responder"
    /// The most frames one message may come in. RFC 6455 sets no floor on a fragment's size, so
    /// this bounds the frames held while a message is joined; browsers send each message whole.
    static let maximumFragments = 128

    /// Adds the HTTP server, the upgrader and the plain-request responder to a new connection.
    static func configure(
        _ channel: any Channel, transport: SIPTransportKind, state: SIPTransportState, responder: SIPHTTPResponder?
    ) throws {
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: state.maximumMessageSize,
            automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeSucceededFuture(offersSIP(head.headers) ? HTTPHeaders([("Sec-WebSocket-Protocol", "sip")]) : nil)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    // Frames are checked one by one before fragments are joined: a joined message
                    // keeps neither the mask nor the reserved bits of its parts.
                    try channel.pipeline.syncOperations.addHandlers([
                        SIPWebSocketFrameChecker(),
                        NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: maximumFragments,
                            maxAccumulatedFrameSize: state.maximumMessageSize),
                        SIPWebSocketHandler(state: state, transport: transport),
                    ])
                }
            })
        let pipeline = channel.pipeline.syncOperations
        try pipeline.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                // Frames must not reach the HTTP responder once the connection is a WebSocket.
                context.pipeline.syncOperations.removeHandler(name: responderName, promise: nil)
            }))
        try pipeline.addHandler(SIPHTTPRequestHandler(responder: responder), name: responderName)
    }

    /// Whether the client's Sec-WebSocket-Protocol list includes `sip` (RFC 7118 §4.1).
    static func offersSIP(_ headers: HTTPHeaders) -> Bool {
        headers[canonicalForm: "sec-websocket-protocol"].contains { $0.lowercased() == "sip" }
    }
}

/// Plain HTTP on a WebSocket listener: a WebSocket upgrade that did not happen (no `sip`
/// subprotocol) gets 400; anything else goes to the caller's responder, or 404 without one.
final class SIPHTTPRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: SIPHTTPResponder?
    private var request: HTTPRequestHead?

    init(responder: SIPHTTPResponder?) { self.responder = responder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(context: context, to: head)
        }
    }

    private func respond(context: ChannelHandlerContext, to head: HTTPRequestHead) {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: ByteBuffer
        var keepAlive = head.isKeepAlive
        if head.headers.contains(name: "upgrade") {
            status = .badRequest
            headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")])
            body = ByteBuffer(string: "SIP over WebSocket needs the 'sip' subprotocol (RFC 7118)\n")
            keepAlive = false
        } else if let responder {
            (status, headers, body) = responder(head)
        } else {
            status = .notFound
            headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")])
            body = ByteBuffer(string: "not found\n")
        }
        if !headers.contains(name: "content-length") { headers.add(name: "Content-Length", value: "\(body.readableBytes)") }
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD && body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let ended = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            ended.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A refused upgrade is reported here before its request arrives to be answered with 400.
        if error is NIOWebSocketUpgradeError { return }
        context.close(promise: nil)
    }
}

/// Why a frame was refused before it reached the message handler.
struct SIPWebSocketFrameError: Error, CustomStringConvertible {
    var description: String
}

/// Each frame as it comes off the wire: client frames must be masked (RFC 6455 §5.1) and, with
/// no extension negotiated, have RSV1-3 clear (§5.2). A refused frame goes no further and becomes
/// an error, which SIPWebSocketHandler answers with close code 1002.
final class SIPWebSocketFrameChecker: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.maskKey != nil, !frame.rsv1, !frame.rsv2, !frame.rsv3 else {
            context.fireErrorCaught(SIPWebSocketFrameError(description: "unmasked frame or unnegotiated extension bits"))
            return
        }
        context.fireChannelRead(data)
    }
}

/// An upgraded SIP WebSocket: whole data messages (NIOWebSocketFrameAggregator joins fragments)
/// in as SIP messages, `ByteBuffer`s out as frames (text when the bytes are UTF-8, binary
/// otherwise, RFC 7118 §5.3).
final class SIPWebSocketHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private var tracker: SIPConnectionTracker
    private var closeSent = false

    init(state: SIPTransportState, transport: SIPTransportKind) {
        self.tracker = SIPConnectionTracker(state: state, transport: transport)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { tracker.becameActive(context.channel) }
    }

    func channelActive(context: ChannelHandlerContext) {
        tracker.becameActive(context.channel)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        tracker.becameInactive(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            // Whole: the aggregator passes on no fragment and no continuation.
            deliver(frame.unmaskedData, context: context)
        case .ping:
            guard !closeSent else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            guard !closeSent else {
                context.close(promise: nil)
                return
            }
            // Echo the peer's status code, then close (RFC 6455 §5.5.1).
            var payload = frame.unmaskedData
            let code = payload.readWebSocketErrorCode()
            closeSent = true
            var reply = context.channel.allocator.buffer(capacity: 2)
            if let code { reply.write(webSocketErrorCode: code) }
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
                .whenComplete { _ in channel.close(promise: nil) }
        default:
            fail(context: context, code: .protocolError, reason: "unknown opcode")
        }
    }

    /// One SIP message, or a CRLF keep-alive as some WebSocket clients send them (a double CRLF
    /// gets a single CRLF back, as on other streams per RFC 5626 §4.4.1).
    private func deliver(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        if bytes.readableBytesView.allSatisfy({ $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) {
            if bytes.readableBytesView.elementsEqual("\r\n\r\n".utf8) && !closeSent {
                let pong = WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: "\r\n"))
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            }
            return
        }
        tracker.deliver(bytes)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        let isText = String(validating: bytes.readableBytesView, as: UTF8.self) != nil
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: isText ? .text : .binary, data: bytes)), promise: promise)
    }

    private func fail(context: ChannelHandlerContext, code: WebSocketErrorCode, reason: String) {
        var metadata = tracker.metadata
        metadata["reason"] = "\(reason)"
        tracker.state.logger.notice("SIP WebSocket closed: protocol error", metadata: metadata)
        guard !closeSent else {
            context.close(promise: nil)
            return
        }
        closeSent = true
        var payload = context.channel.allocator.buffer(capacity: 2)
        payload.write(webSocketErrorCode: code)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)))
            .whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOWebSocketFrameAggregator.Error {
            // Too much to hold is 1009; fragments out of order (a continuation without a message,
            // a new message inside a fragmented one) are 1002 (RFC 6455 §7.4.1).
            let (code, reason): (WebSocketErrorCode, String) =
                error == .accumulatedFrameSizeIsTooLarge ? (.messageTooLarge, "fragmented message too large")
                : error == .tooManyFragments ? (.messageTooLarge, "fragmented message in too many frames")
                : (.protocolError, "fragments out of order (\(error))")
            return fail(context: context, code: code, reason: reason)
        }
        if let error = error as? SIPWebSocketFrameError {
            return fail(context: context, code: .protocolError, reason: error.description)
        }
        var metadata = tracker.metadata
        metadata["error"] = "\(error)"
        tracker.state.logger.debug("SIP WebSocket error", metadata: metadata)
        context.close(promise: nil)
    }
}
