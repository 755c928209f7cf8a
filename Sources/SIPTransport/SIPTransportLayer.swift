// The SIP transport layer (RFC 3261 §18, RFC 7118): binds the node's listeners (UDP, TCP, TLS, WS,
// WSS) all or nothing before the daemon reports READY, turns what arrives into whole SIP messages
// on one event stream, and sends bytes back: over the UDP listener's socket, on an existing
// connection, or on a TCP/TLS connection it reuses or opens to the destination (§18.1.1, §18.2.2).
// It never parses SIP beyond framing; the SIP stack consumes `events` and calls `send`.

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

/// A stream connection (TCP, TLS, WS, WSS), accepted or opened, unique for the layer's lifetime.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "conn-\(rawValue)" }
}

/// One SIP message as it arrived.
public struct InboundSIPMessage: Sendable {
    /// Exactly one SIP message: headers, empty line and body.
    public var bytes: ByteBuffer
    public var transport: SIPTransportKind
    public var source: SocketAddress
    /// The local address it arrived on: the listener's address and port (for a stream, the
    /// connection's local end, which names the interface when the listener is on a wildcard).
    public var local: SocketAddress
    /// The connection it arrived on; nil for UDP.
    public var connection: ConnectionID?

    public init(bytes: ByteBuffer, transport: SIPTransportKind, source: SocketAddress, local: SocketAddress, connection: ConnectionID?) {
        self.bytes = bytes
        self.transport = transport
        self.source = source
        self.local = local
        self.connection = connection
    }
}

public enum SIPTransportEvent: Sendable {
    case message(InboundSIPMessage)
    case connectionClosed(ConnectionID, SIPTransportKind)
}

/// Where `send` puts bytes.
public enum SIPDestination: Sendable, Hashable {
    /// An open stream connection (the only way to reach a WebSocket peer, RFC 7118 §5.2).
    case connection(ConnectionID)
    /// UDP: from the UDP listener. TCP/TLS: on an open connection to the address, or a new one.
    /// `serverName` is the host the TLS certificate must match (RFC 5922); unused otherwise.
    case address(SIPTransportKind, SocketAddress, serverName: String? = nil)
}

public enum SIPTransportError: Error, Sendable, CustomStringConvertible {
    case unknownConnection(ConnectionID)
    case noListener(SIPTransportKind, SocketAddress)
    case webSocketNeedsConnection(SocketAddress)
    case tlsUnavailable(String)
    case closed

    public var description: String {
        switch self {
        case .unknownConnection(let id): return "no open SIP connection \(id)"
        case .noListener(let transport, let address): return "no \(transport) listener can send to \(address)"
        case .webSocketNeedsConnection(let address): return "cannot open a WebSocket to \(address): WebSocket peers are reached on their own connection"
        case .tlsUnavailable(let reason): return "TLS client unavailable: \(reason)"
        case .closed: return "SIP transport layer is closed"
        }
    }
}

/// Why an inbound connection was closed by Tandem (a label of `tandem_sip_connections_closed_total`).
public enum SIPConnectionDrop: String, Sendable, Hashable, CaseIterable {
    /// ``SIPTransportOptions/maximumConnections`` were open: closed as accepted.
    case connectionLimit = "connection_limit"
    /// ``SIPTransportOptions/maximumConnectionsPerSource`` were open from its address.
    case sourceLimit = "source_limit"
    /// No SIP message within ``SIPTransportOptions/firstMessageTimeout``.
    case noFirstMessage = "no_first_message"
}

/// Why a UDP datagram was dropped before it became an event (a label of `tandem_sip_dropped_total`).
public enum SIPDatagramDrop: String, Sendable, Hashable, CaseIterable {
    /// Over ``SIPTransportOptions/maximumDatagramSize``: dropped unread.
    case oversized
    /// Not a SIP message (no start line, no end of headers, a bad Content-Length).
    case notSIP = "not_sip"
}

/// Tunables; the defaults suit production.
public struct SIPTransportOptions: Sendable {
    /// 8 KB: four times the largest INVITE a trunk sends in practice (a few hundred bytes of
    /// headers and an SDP of a dozen codecs), and RFC 3261 §18.1.1 has anything near the path MTU
    /// go over TCP anyway.
    public static let defaultMaximumDatagramSize = 8192

    /// The largest SIP message accepted on a stream or WebSocket (RFC 3261 §18.3 leaves it open).
    public var maximumMessageSize = SIPStreamFramer.defaultMaximumMessageSize
    /// The largest UDP datagram read as SIP; a bigger one is dropped before parsing and counted.
    public var maximumDatagramSize = SIPTransportOptions.defaultMaximumDatagramSize
    /// Inbound TCP, TLS and WebSocket connections open at once; one more is closed as it is
    /// accepted (the descriptors beyond are the media's).
    public var maximumConnections = 4096
    /// Inbound connections open at once from one address.
    public var maximumConnectionsPerSource = 256
    /// How long an inbound connection has to deliver its first SIP message (the TLS handshake
    /// and the WebSocket upgrade included) before it is closed: idle, half-open and slowloris
    /// connections go; a browser sends its REGISTER at once.
    public var firstMessageTimeout: TimeAmount = .seconds(30)
    /// Whether outbound TLS connections verify the server certificate against the system trust
    /// store. Turn off only in tests.
    public var verifiesTLSServers = true
    /// How many events may wait for the consumer before new ones are dropped (and logged).
    public var eventBufferLimit = 16_384
    /// How long an outbound TCP/TLS connect may take.
    public var connectTimeout: TimeAmount = .seconds(10)
    /// Sees every message received and sent (the SIP trace); nil: no trace.
    public var tracer: SIPTracer?

    public init() {}
}

public final class SIPTransportLayer: Sendable {
    private struct Listener {
        var transport: SIPTransportKind
        var channel: any Channel
    }

    public let bound: [BoundSIPListener]
    /// Every inbound message and connection end, in arrival order per connection. One consumer;
    /// it finishes after `close()`.
    public let events: AsyncStream<SIPTransportEvent>

    private let listeners: [Listener]
    private let state: SIPTransportState

    /// UDP datagrams dropped before parsing, by reason, and events dropped because the consumer
    /// had no room for them: totals since start.
    public var dropped: (datagrams: [SIPDatagramDrop: Int], events: Int) { state.dropped }

    /// Inbound connections closed by Tandem, by reason, since start; and how many are open now.
    public var connections: (closed: [SIPConnectionDrop: Int], open: Int) { state.connectionFigures }
    private let group: any EventLoopGroup
    private let options: SIPTransportOptions
    private let tlsClient: Result<NIOSSLContext, SIPTransportError>

    private init(
        bound: [BoundSIPListener], listeners: [Listener], events: AsyncStream<SIPTransportEvent>, state: SIPTransportState,
        group: any EventLoopGroup, options: SIPTransportOptions
    ) {
        self.bound = bound
        self.listeners = listeners
        self.events = events
        self.state = state
        self.group = group
        self.options = options
        var configuration = TLSConfiguration.makeClientConfiguration()
        if !options.verifiesTLSServers { configuration.certificateVerification = .none }
        do {
            tlsClient = .success(try NIOSSLContext(configuration: configuration))
        } catch {
            tlsClient = .failure(.tlsUnavailable("\(error)"))
        }
    }

    /// Binds every listener, or none: on the first failure the ones already bound are closed.
    /// `httpResponder` answers plain HTTP requests on WS/WSS listeners (404 without one).
    public static func start(
        _ specs: [SIPListenerSpec], group: any EventLoopGroup, logger: Logger,
        httpResponder: SIPHTTPResponder? = nil, options: SIPTransportOptions = SIPTransportOptions()
    ) async throws -> SIPTransportLayer {
        let (events, continuation) = AsyncStream.makeStream(
            of: SIPTransportEvent.self, bufferingPolicy: .bufferingOldest(options.eventBufferLimit))
        let state = SIPTransportState(
            logger: logger, maximumMessageSize: options.maximumMessageSize, maximumDatagramSize: options.maximumDatagramSize,
            limits: .init(total: options.maximumConnections, perSource: options.maximumConnectionsPerSource,
                          firstMessageTimeout: options.firstMessageTimeout),
            continuation: continuation, tracer: options.tracer)
        var listeners: [Listener] = []
        var bound: [BoundSIPListener] = []
        do {
            for spec in specs {
                let channel = try await bindOne(spec, group: group, state: state, httpResponder: httpResponder)
                listeners.append(Listener(transport: spec.transport, channel: channel))
                let port = channel.localAddress?.port ?? spec.port
                bound.append(BoundSIPListener(transport: spec.transport, address: spec.address, port: port))
                logger.info("listening", metadata: ["transport": "\(spec.transport)", "address": "\(spec.address)", "port": "\(port)"])
            }
        } catch {
            for listener in listeners { try? await listener.channel.close() }
            continuation.finish()
            throw error
        }
        return SIPTransportLayer(bound: bound, listeners: listeners, events: events, state: state, group: group, options: options)
    }

    private static func bindOne(
        _ spec: SIPListenerSpec, group: any EventLoopGroup, state: SIPTransportState, httpResponder: SIPHTTPResponder?
    ) async throws -> any Channel {
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
                // Receive buffers hold one byte more than the largest datagram taken: a bigger one
                // arrives cut to that length, and the handler drops it as oversized.
                return try await DatagramBootstrap(group: group)
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: state.maximumDatagramSize + 1))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(SIPDatagramHandler(state: state))
                        }
                    }
                    .bind(host: spec.address, port: spec.port).get()
            case .tcp, .tls, .ws, .wss:
                let transport = spec.transport
                return try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            guard state.admit(channel) else { return }  // closed: over a limit, or the layer closed
                            let pipeline = channel.pipeline.syncOperations
                            if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                            if transport.isWebSocket {
                                try SIPWebSocketPipeline.configure(channel, transport: transport, state: state, responder: httpResponder)
                            } else {
                                try addStreamHandlers(pipeline, transport: transport, state: state, dialed: nil)
                            }
                        }
                    }
                    .bind(host: spec.address, port: spec.port).get()
            }
        } catch {
            throw SIPListenerError(description: "cannot bind \(what): \(error)")
        }
    }

    private static func addStreamHandlers(
        _ pipeline: ChannelPipeline.SynchronousOperations, transport: SIPTransportKind, state: SIPTransportState, dialed: SocketAddress?
    ) throws {
        try pipeline.addHandler(ByteToMessageHandler(SIPStreamFrameDecoder(maximumMessageSize: state.maximumMessageSize)))
        try pipeline.addHandler(SIPStreamConnectionHandler(state: state, transport: transport, dialed: dialed))
    }

    // MARK: Sending

    /// Sends one SIP message. Completes when the bytes are handed to the socket; throws when the
    /// destination cannot be reached (no such connection, connect or TLS failure, write error).
    public func send(_ bytes: ByteBuffer, to destination: SIPDestination) async throws {
        switch destination {
        case .connection(let id):
            guard let (channel, transport) = state.connection(id) else { throw SIPTransportError.unknownConnection(id) }
            state.traceSent(bytes, transport, on: channel, to: nil)
            try await channel.writeAndFlush(bytes).get()
        case .address(.udp, let address, _):
            let sameFamily = listeners.first { $0.transport == .udp && $0.channel.localAddress?.protocol == address.protocol }
            guard let listener = sameFamily else { throw SIPTransportError.noListener(.udp, address) }
            state.traceSent(bytes, .udp, on: listener.channel, to: address)
            try await listener.channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: bytes)).get()
        case .address(let transport, let address, _) where transport.isWebSocket:
            throw SIPTransportError.webSocketNeedsConnection(address)
        case .address(let transport, let address, let serverName):
            let channel = try await streamChannel(to: ConnectionKey(transport: transport, address: address), serverName: serverName)
            state.traceSent(bytes, transport, on: channel, to: nil)
            try await channel.writeAndFlush(bytes).get()
        }
    }

    /// Queues `bytes` for sending without waiting for the write to finish; failures go to
    /// `onError`. Writes to one connection or listener keep the order they were posted in.
    public func post(_ bytes: ByteBuffer, to destination: SIPDestination, onError: @escaping @Sendable (any Error) -> Void) {
        let write: EventLoopFuture<Void>
        switch destination {
        case .connection(let id):
            guard let (channel, transport) = state.connection(id) else { return onError(SIPTransportError.unknownConnection(id)) }
            state.traceSent(bytes, transport, on: channel, to: nil)
            write = channel.writeAndFlush(bytes)
        case .address(.udp, let address, _):
            guard let listener = listeners.first(where: { $0.transport == .udp && $0.channel.localAddress?.protocol == address.protocol }) else {
                return onError(SIPTransportError.noListener(.udp, address))
            }
            state.traceSent(bytes, .udp, on: listener.channel, to: address)
            write = listener.channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: bytes))
        default:
            Task {
                do { try await self.send(bytes, to: destination) } catch { onError(error) }
            }
            return
        }
        write.whenFailure { onError($0) }
    }

    /// An open TCP/TLS connection to the key's address, or a new one; concurrent callers share one connect.
    private func streamChannel(to key: ConnectionKey, serverName: String?) async throws -> any Channel {
        let eventLoop = group.next()
        switch state.route(to: key, eventLoop: eventLoop) {
        case .closed:
            throw SIPTransportError.closed
        case .open(let channel):
            return channel
        case .pending(let future):
            return try await future.get()
        case .connect(let promise):
            let connected = connect(key, serverName: serverName, on: eventLoop)
            let state = self.state
            connected.whenComplete { _ in state.connectFinished(key) }
            promise.completeWith(connected)
            return try await promise.futureResult.get()
        }
    }

    private func connect(_ key: ConnectionKey, serverName: String?, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        var tls: NIOSSLContext?
        if key.transport == .tls {
            switch tlsClient {
            case .success(let context): tls = context
            case .failure(let error): return eventLoop.makeFailedFuture(error)
            }
        }
        let state = self.state
        let transport = key.transport
        let dialed = key.address
        let tlsContext = tls
        state.logger.debug("SIP connecting", metadata: ["transport": "\(transport)", "peer": "\(dialed)"])
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(options.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    state.track(channel)
                    let pipeline = channel.pipeline.syncOperations
                    if let tlsContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                    }
                    try Self.addStreamHandlers(pipeline, transport: transport, state: state, dialed: dialed)
                }
            }
            .connect(to: dialed)
            .map { channel in
                // Registered now, not only at channelActive, so a send racing this one reuses it.
                state.register(channel, transport: transport, addresses: [dialed])
                return channel
            }
    }

    // MARK: Shutdown

    /// Closes every listener and connection, then finishes `events`.
    public func close() async {
        for listener in listeners { try? await listener.channel.close() }
        for channel in state.closeAll() { try? await channel.close() }
        state.finishEvents()
    }
}
