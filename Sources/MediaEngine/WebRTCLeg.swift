// The IO driver of a WebRTC leg: one UDP socket on the call's event loop, carrying whatever the
// WebRTCLegCore decides (STUN answers, DTLS flights, SRTP), and one timer at the core's next
// deadline. Everything about the leg happens on that loop: no locks on the packet path.

import DTLS
import ICE
import NIOCore
import NIOPosix

public final class WebRTCLeg: @unchecked Sendable {  // confined to `eventLoop`
    public let eventLoop: any EventLoop
    private let core: WebRTCLegCore
    private var channel: (any Channel)?
    private var timer: Scheduled<Void>?
    private let onEvent: @Sendable (WebRTCLegEvent) -> Void
    private let onRTP: @Sendable ([UInt8]) -> Void
    private let onRTCP: @Sendable ([UInt8]) -> Void

    private init(eventLoop: any EventLoop, core: WebRTCLegCore, onEvent: @escaping @Sendable (WebRTCLegEvent) -> Void,
                 onRTP: @escaping @Sendable ([UInt8]) -> Void, onRTCP: @escaping @Sendable ([UInt8]) -> Void) {
        self.eventLoop = eventLoop
        self.core = core
        self.onEvent = onEvent
        self.onRTP = onRTP
        self.onRTCP = onRTCP
    }

    /// Binds the leg's socket at `address`:`port` on `eventLoop` and starts serving it.
    public static func open(
        address: String, port: Int, on eventLoop: any EventLoop, core: WebRTCLegCore,
        onEvent: @escaping @Sendable (WebRTCLegEvent) -> Void, onRTP: @escaping @Sendable ([UInt8]) -> Void,
        onRTCP: @escaping @Sendable ([UInt8]) -> Void = { _ in }
    ) async throws -> WebRTCLeg {
        let leg = WebRTCLeg(eventLoop: eventLoop, core: core, onEvent: onEvent, onRTP: onRTP, onRTCP: onRTCP)
        let channel = try await DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WebRTCLegHandler(leg: leg))
                }
            }
            .bind(host: address, port: port).get()
        try await eventLoop.submit {
            leg.channel = channel
            leg.reschedule()
        }.get()
        return leg
    }

    /// The socket's bound address.
    public var localAddress: SocketAddress? { channel?.localAddress }

    /// Sends an RTP packet (encrypted by the core) to the browser, once connected.
    public func send(rtp packet: [UInt8]) {
        eventLoop.execute {
            self.perform(self.core.send(rtp: packet))
        }
    }

    /// Sends an RTCP compound packet to the browser, once connected.
    public func send(rtcp packet: [UInt8]) {
        eventLoop.execute {
            self.perform(self.core.send(rtcp: packet))
        }
    }

    /// Counters, read on the leg's loop.
    public func counters() async throws -> WebRTCLegCounters {
        try await eventLoop.submit { self.core.counters }.get()
    }

    public func close() async {
        try? await eventLoop.submit {
            self.timer?.cancel()
            self.timer = nil
        }.get()
        try? await channel?.close()
    }

    // MARK: On the loop

    fileprivate func received(_ bytes: [UInt8], from source: SocketAddress) {
        perform(core.receive(bytes, from: source, now: .now()))
    }

    private func perform(_ output: WebRTCLegOutput) {
        if let channel {
            for datagram in output.datagrams {
                channel.write(AddressedEnvelope(remoteAddress: datagram.to, data: ByteBuffer(bytes: datagram.bytes)), promise: nil)
            }
            if !output.datagrams.isEmpty { channel.flush() }
        }
        for event in output.events { onEvent(event) }
        for packet in output.rtp { onRTP(packet) }
        for packet in output.rtcp { onRTCP(packet) }
        reschedule()
    }

    private func reschedule() {
        timer?.cancel()
        timer = nil
        guard let deadline = core.nextDeadline else { return }
        timer = eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.perform(self.core.timeout(now: .now()))
        }
    }
}

private final class WebRTCLegHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let leg: WebRTCLeg

    init(leg: WebRTCLeg) { self.leg = leg }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        leg.received(Array(envelope.data.readableBytesView), from: envelope.remoteAddress)
    }
}
