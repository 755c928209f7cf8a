// Binds the node's SIP listeners (UDP, TCP, TLS, WS, WSS) on the worker event loops and keeps
// them until shutdown. Binding happens before the daemon reports READY, so a port in use or a bad
// certificate stops the start with a clear error instead of a half-working node.
//
// The SIP message layer (parser, transactions, RFC 7118 framing) attaches to these channels; until
// it does, datagrams are counted and dropped, stream connections are closed at once, and
// WebSocket listeners answer HTTP 503 with an explanation.

import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SIP

/// One listener to bind.
public struct SIPListenerSpec: Sendable, Equatable {
    public var transport: SIPTransportKind
    public var address: String
    public var port: Int
    public var certificatePath: String?
    public var privateKeyPath: String?

    public init(transport: SIPTransportKind, address: String, port: Int, certificatePath: String? = nil, privateKeyPath: String? = nil) {
        self.transport = transport
        self.address = address
        self.port = port
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }
}

/// A listener as bound: the real port when 0 was asked for.
public struct BoundSIPListener: Sendable, Equatable {
    public var transport: SIPTransportKind
    public var address: String
    public var port: Int
}

public struct SIPListenerError: Error, CustomStringConvertible {
    public var description: String
}

public final class SIPListenerGroup: Sendable {
    private let channels: [any Channel]
    public let bound: [BoundSIPListener]

    private init(channels: [any Channel], bound: [BoundSIPListener]) {
        self.channels = channels
        self.bound = bound
    }

    /// Binds every listener, or none: on the first failure the ones already bound are closed.
    public static func bind(_ specs: [SIPListenerSpec], group: any EventLoopGroup, logger: Logger) async throws -> SIPListenerGroup {
        var channels: [any Channel] = []
        var bound: [BoundSIPListener] = []
        do {
            for spec in specs {
                let channel = try await bindOne(spec, group: group, logger: logger)
                channels.append(channel)
                let port = channel.localAddress?.port ?? spec.port
                bound.append(BoundSIPListener(transport: spec.transport, address: spec.address, port: port))
                logger.info("listening", metadata: ["transport": "\(spec.transport)", "address": "\(spec.address)", "port": "\(port)"])
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return SIPListenerGroup(channels: channels, bound: bound)
    }

    private static func bindOne(_ spec: SIPListenerSpec, group: any EventLoopGroup, logger: Logger) async throws -> any Channel {
        let what = "\(spec.transport) listener on \(spec.address):\(spec.port)"
        let tls: NIOSSLContext?
        if spec.transport.isSecure {
            guard let certificatePath = spec.certificatePath, let keyPath = spec.privateKeyPath else {
                throw SIPListenerError(description: "\(what) needs a certificate and a private key")
            }
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
                tls = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
            } catch {
                throw SIPListenerError(description: "\(what): cannot load certificate: \(error)")
            }
        } else {
            tls = nil
        }
        do {
            switch spec.transport {
            case .udp:
                // No SO_REUSEADDR on UDP: on Linux it would let a second process bind the same port.
                return try await DatagramBootstrap(group: group)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(PendingDatagramSink(logger: logger))
                        }
                    }
                    .bind(host: spec.address, port: spec.port).get()
            case .tcp, .tls, .ws, .wss:
                let transport = spec.transport
                return try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let pipeline = channel.pipeline.syncOperations
                            if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                            if transport.isWebSocket {
                                try pipeline.configureHTTPServerPipeline()
                                try pipeline.addHandler(PendingWebSocketResponder())
                            } else {
                                try pipeline.addHandler(PendingStreamCloser(logger: logger))
                            }
                        }
                    }
                    .bind(host: spec.address, port: spec.port).get()
            }
        } catch {
            throw SIPListenerError(description: "cannot bind \(what): \(error)")
        }
    }

    /// Closes every listener.
    public func close() async {
        for channel in channels { try? await channel.close() }
    }
}

/// Drops datagrams until the SIP message layer is attached.
final class PendingDatagramSink: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        logger.debug("SIP datagram dropped: no SIP stack attached", metadata: ["from": "\(envelope.remoteAddress)"])
    }
}

/// Closes stream connections until the SIP message layer is attached.
final class PendingStreamCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func channelActive(context: ChannelHandlerContext) {
        logger.debug("SIP connection closed: no SIP stack attached", metadata: ["from": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// Answers HTTP on a WebSocket listener until SIP over WebSocket is attached.
final class PendingWebSocketResponder: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let body = "SIP over WebSocket is not available yet on this node\n"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .serviceUnavailable, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
