// The operators' HTTP listener. Serves `GET /healthz`: 200 "ok" while running, 503 "draining"
// once a drain has begun, so a load balancer stops sending new calls. Metrics join it later.
// With `http.demo_phone` on, it also serves the demo web phone under `/phone/` (static files
// compiled into the binary, plus `config.json` naming the WebSocket listeners to register on).

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

    /// - Parameter metrics: the Prometheus text exposition served at /metrics (404 when nil).
    public static func bind(host: String, port: Int, group: any EventLoopGroup, state: HealthState,
                            demoPhone: DemoPhoneSettings? = nil,
                            metrics: (@Sendable () async -> String)? = nil) async throws -> HealthServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(HealthHandler(state: state, demoPhone: demoPhone, metrics: metrics))
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
    private let demoPhone: DemoPhoneSettings?
    private let metrics: (@Sendable () async -> String)?

    init(state: HealthState, demoPhone: DemoPhoneSettings? = nil, metrics: (@Sendable () async -> String)? = nil) {
        self.state = state
        self.demoPhone = demoPhone
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        if let metrics, request.uri == "/metrics" || request.uri.hasPrefix("/metrics?"), request.method == .GET || request.method == .HEAD {
            let loop = context.eventLoop
            let bound = NIOLoopBound(context, eventLoop: loop)
            loop.makeFutureWithTask { await metrics() }.whenSuccess { text in
                Self.respond(bound.value, request: request, status: .ok, body: text,
                             contentType: "text/plain; version=0.0.4; charset=utf-8", extra: [])
            }
            return
        }
        var status: HTTPResponseStatus
        var body: String
        var contentType = "text/plain; charset=utf-8"
        var extra: [(String, String)] = []
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        switch (request.method, path) {
        case (.GET, "/healthz"), (.HEAD, "/healthz"):
            (status, body) = state.isDraining ? (.serviceUnavailable, "draining\n") : (.ok, "ok\n")
        case (_, "/healthz"):
            (status, body) = (.methodNotAllowed, "method not allowed\n")
        default:
            if let demoPhone, path == "/phone" || path.hasPrefix("/phone/") {
                if request.method != .GET && request.method != .HEAD {
                    (status, body) = (.methodNotAllowed, "method not allowed\n")
                } else if path == "/phone" {
                    (status, body) = (.movedPermanently, "see /phone/\n")
                    extra.append(("Location", "/phone/"))
                } else if let file = DemoPhoneFiles.file(at: String(path.dropFirst("/phone/".count)), settings: demoPhone) {
                    (status, body, contentType) = (.ok, file.body, file.contentType)
                    extra.append(("Cache-Control", "no-store"))
                    extra.append(("X-Content-Type-Options", "nosniff"))
                } else {
                    (status, body) = (.notFound, "not found\n")
                }
            } else {
                (status, body) = (.notFound, "not found\n")
            }
        }
        Self.respond(context, request: request, status: status, body: body, contentType: contentType, extra: extra)
    }

    private static func respond(_ context: ChannelHandlerContext, request: HTTPRequestHead, status: HTTPResponseStatus, body: String,
                                contentType: String, extra: [(String, String)]) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        for (name, value) in extra { headers.add(name: name, value: value) }
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
