// The operators' HTTP listener. Serves `GET /healthz`: 200 "ok" while running, 503 "draining"
// once a drain has begun, so a load balancer stops sending new calls. Metrics join it later.

import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Whether the node takes new calls, as load balancers see it.
public final class HealthState: Sendable {
    private let draining = Atomic<Bool>(false)

    public init() {}

    public var isDraining: Bool { draining.load(ordering: .relaxed) }
    public func startDraining() { draining.store(true, ordering: .relaxed) }
    public func stopDraining() { draining.store(false, ordering: .relaxed) }
}

public final class HealthServer: Sendable {
    private let channel: any Channel

    /// The bound address (the real port when 0 was asked for).
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) { self.channel = channel }

    public static func bind(host: String, port: Int, group: any EventLoopGroup, state: HealthState) async throws -> HealthServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(HealthHandler(state: state))
                }
            }
            .bind(host: host, port: port).get()
        return HealthServer(channel: channel)
    }

    public func close() async { try? await channel.close() }
}

final class HealthHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: HealthState

    init(state: HealthState) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let (status, body): (HTTPResponseStatus, String)
        switch (request.method, request.uri.split(separator: "?").first ?? "") {
        case (.GET, "/healthz"), (.HEAD, "/healthz"):
            (status, body) = state.isDraining ? (.serviceUnavailable, "draining\n") : (.ok, "ok\n")
        case (_, "/healthz"):
            (status, body) = (.methodNotAllowed, "method not allowed\n")
        default:
            (status, body) = (.notFound, "not found\n")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
