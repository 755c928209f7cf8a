// The thin channel handlers between sockets and the transport layer's event stream: one for the
// UDP listener (one message per datagram, RFC 3261 §18.3), one at the end of every TCP/TLS
// connection pipeline after `SIPStreamFrameDecoder` (RFC 3261 §18.3 framing, connection reuse per
// §18.2.2). Each turns inbound bytes into `SIPTransportEvent`s; outbound bytes pass through
// untouched. A bad peer only ever loses its own connection.

import Logging
import NIOCore
import SIP

/// Delivers each SIP datagram as a message; drops keep-alives and anything that is not SIP.
/// Errors never close the listener: one peer's garbage or ICMP error must not stop the others.
final class SIPDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let state: SIPTransportState
    private var local: SocketAddress?

    init(state: SIPTransportState) { self.state = state }

    func channelActive(context: ChannelHandlerContext) {
        local = context.channel.localAddress
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.data.readableBytes <= state.maximumDatagramSize else {
            state.countDropped(.oversized)
            return
        }
        switch SIPDatagramFraming.frame(envelope.data) {
        case .message(let bytes):
            guard let local = local ?? context.channel.localAddress else { return }
            state.deliver(.message(InboundSIPMessage(
                bytes: bytes, transport: .udp, source: envelope.remoteAddress, local: local, connection: nil)))
        case .keepAlive:
            break
        case .dropped(let reason):
            state.countDropped(.notSIP)
            state.logger.debug("SIP datagram dropped", metadata: [
                "from": "\(envelope.remoteAddress)", "bytes": "\(envelope.data.readableBytes)", "reason": "\(reason)",
            ])
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.logger.debug("SIP UDP socket error", metadata: ["error": "\(error)"])
    }
}

/// Gives a stream connection (TCP, TLS, or an upgraded WebSocket) its id when it becomes active
/// and reports its end. Shared by the stream and WebSocket handlers.
struct SIPConnectionTracker {
    let state: SIPTransportState
    let transport: SIPTransportKind
    /// The address a dialled connection was opened to, so later sends to it reuse the connection.
    let dialed: SocketAddress?
    private(set) var id: ConnectionID?
    private(set) var remote: SocketAddress?
    private(set) var local: SocketAddress?

    init(state: SIPTransportState, transport: SIPTransportKind, dialed: SocketAddress? = nil) {
        self.state = state
        self.transport = transport
        self.dialed = dialed
    }

    var metadata: Logger.Metadata {
        ["transport": "\(transport)", "connection": "\(id.map { "\($0)" } ?? "-")", "peer": "\(remote.map { "\($0)" } ?? "?")"]
    }

    mutating func becameActive(_ channel: any Channel) {
        guard id == nil else { return }
        remote = channel.remoteAddress
        local = channel.localAddress
        id = state.register(channel, transport: transport, addresses: [remote, dialed].compactMap { $0 })
        state.logger.debug("SIP connection open", metadata: metadata)
    }

    mutating func becameInactive(_ channel: any Channel) {
        guard let (id, transport) = state.unregister(channel) else { return }
        state.logger.debug("SIP connection closed", metadata: metadata)
        state.deliver(.connectionClosed(id, transport))
        self.id = nil
    }

    func deliver(_ bytes: ByteBuffer) {
        guard let id, let remote, let local else { return }
        state.deliver(.message(InboundSIPMessage(bytes: bytes, transport: transport, source: remote, local: local, connection: id)))
    }
}

/// The last handler of a TCP/TLS connection: framed messages in, connection lifecycle out.
final class SIPStreamConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var tracker: SIPConnectionTracker

    init(state: SIPTransportState, transport: SIPTransportKind, dialed: SocketAddress? = nil) {
        self.tracker = SIPConnectionTracker(state: state, transport: transport, dialed: dialed)
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
        tracker.deliver(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        var metadata = tracker.metadata
        metadata["error"] = "\(error)"
        if error is SIPStreamFramer.FramingError {
            tracker.state.logger.notice("SIP connection closed: bad framing", metadata: metadata)
        } else {
            tracker.state.logger.debug("SIP connection error", metadata: metadata)
        }
        context.close(promise: nil)
    }
}
