// One UDP socket of a media leg, bound on the call's event loop: datagrams in go to a handler on
// that loop, datagrams out are written and flushed in batches, and one timer follows the leg
// core's next deadline. The leg drivers (WebRTC, RTP) are this plus their core.

import NIOCore
import NIOPosix

final class MediaSocket: @unchecked Sendable {  // confined to `eventLoop`
    let eventLoop: any EventLoop
    private var channel: (any Channel)?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private let onDatagram: ([UInt8], SocketAddress) -> Void

    private init(eventLoop: any EventLoop, onDatagram: @escaping ([UInt8], SocketAddress) -> Void) {
        self.eventLoop = eventLoop
        self.onDatagram = onDatagram
    }

    /// Binds `address`:`port` on `eventLoop`; `onDatagram` runs on that loop for every datagram.
    static func bind(address: String, port: Int, on eventLoop: any EventLoop,
                     onDatagram: @escaping ([UInt8], SocketAddress) -> Void) async throws -> MediaSocket {
        let socket = MediaSocket(eventLoop: eventLoop, onDatagram: onDatagram)
        let channel = try await DatagramBootstrap(group: eventLoop)
            // One read per readiness event: a media socket gets 50 packets a second, so reading on
            // until the socket says EAGAIN costs a system call per packet for nothing (epoll is
            // level-triggered: a second queued datagram wakes the loop again).
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MediaSocketHandler(socket: socket))
                }
            }
            .bind(host: address, port: port).get()
        try await eventLoop.submit { socket.channel = channel }.get()
        return socket
    }

    var localAddress: SocketAddress? { channel?.localAddress }

    /// Writes datagrams and flushes once (on the loop).
    func send(_ datagrams: [(bytes: [UInt8], to: SocketAddress)]) {
        guard let channel, !datagrams.isEmpty else { return }
        for datagram in datagrams {
            channel.write(AddressedEnvelope(remoteAddress: datagram.to, data: ByteBuffer(bytes: datagram.bytes)), promise: nil)
        }
        channel.flush()
    }

    /// Makes sure the timer fires at `deadline` or before (none when nil). A timer already due
    /// earlier is kept: the core's deadline moves with nearly every packet (media timeout, reports),
    /// and replacing a timer per packet would cost more than the packet; an early firing finds
    /// nothing due and the driver schedules again.
    func schedule(at deadline: NIODeadline?, _ fire: @escaping () -> Void) {
        guard let deadline else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if timer != nil, let current = timerDeadline, current <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            self?.timer = nil
            self?.timerDeadline = nil
            fire()
        }
    }

    func close() async {
        try? await eventLoop.submit {
            self.timer?.cancel()
            self.timer = nil
        }.get()
        try? await channel?.close()
    }

    fileprivate func received(_ bytes: [UInt8], from source: SocketAddress) { onDatagram(bytes, source) }
}

private final class MediaSocketHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let socket: MediaSocket  // a cycle until the channel closes and the pipeline lets go

    init(socket: MediaSocket) { self.socket = socket }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        socket.received(Array(envelope.data.readableBytesView), from: envelope.remoteAddress)
    }
}
