// The IO driver of the test endpoints: one UDP socket for SIP on the configured address and port,
// one UDP socket per answered call from the endpoints' own RTP port range, and the timers of the
// SIP core and of each call's media, all on one event loop of the daemon's group.

import Logging
import NIOCore
import NIOPosix

public final class TestEndpointServer: @unchecked Sendable {  // confined to `eventLoop`
    public let eventLoop: any EventLoop
    private let address: String
    private let logger: Logger
    private var core: TestEndpointUAS<SocketAddress>
    private var channel: (any Channel)?
    private var sipTimer: Scheduled<Void>?
    private var housekeeping: RepeatedTask?
    private var calls: [String: MediaCall] = [:]
    private var closed = false
    /// A call whose caller has sent no RTP for this long is hung up (the caller is gone).
    private let silenceLimit: TimeAmount

    private final class MediaCall {
        let session: TestMediaSession
        var remote: SocketAddress
        var channel: (any Channel)?
        var timer: Scheduled<Void>?

        init(session: TestMediaSession, remote: SocketAddress) {
            self.session = session
            self.remote = remote
        }
    }

    private init(core: TestEndpointUAS<SocketAddress>, eventLoop: any EventLoop, silenceLimit: TimeAmount, logger: Logger) {
        self.core = core
        self.address = core.address
        self.eventLoop = eventLoop
        self.silenceLimit = silenceLimit
        var logger = logger
        logger[metadataKey: "component"] = "test-endpoints"
        self.logger = logger
    }

    /// Binds the SIP socket (`port` 0: any free port) on one loop of `group`.
    public static func start(address: String, port: Int, rtpPorts: ClosedRange<Int>, userAgent: String = "Tandem test endpoints",
                             silenceLimit: TimeAmount = .seconds(60), group: any EventLoopGroup, logger: Logger) async throws -> TestEndpointServer {
        let eventLoop = group.next()
        let server = TestEndpointServer(
            core: TestEndpointUAS(address: address, port: port, rtpPorts: rtpPorts, userAgent: userAgent),
            eventLoop: eventLoop, silenceLimit: silenceLimit, logger: logger)
        let channel = try await DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramHandler { [weak server] bytes, source in
                        server?.receiveSIP(bytes, from: source)
                    })
                }
            }
            .bind(host: address, port: port).get()
        let bound = channel.localAddress?.port ?? port
        try await eventLoop.submit {
            server.channel = channel
            if bound != port {
                server.core = TestEndpointUAS(address: address, port: bound, rtpPorts: rtpPorts, userAgent: userAgent)
            }
            server.housekeeping = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak server] _ in
                server?.hangUpSilentCalls()
            }
        }.get()
        return server
    }

    /// The SIP port actually bound.
    public var port: Int { core.port }

    /// Calls ringing or answered, and the digits each dtmf call has heard (for status and tests).
    public func snapshot() async -> (calls: Int, answered: Int) {
        (try? await eventLoop.submit { (self.core.activeCalls, self.core.answeredCalls) }.get()) ?? (0, 0)
    }

    public func close() async {
        let channels: [any Channel] = (try? await eventLoop.submit { () -> [any Channel] in
            self.closed = true
            self.sipTimer?.cancel()
            self.housekeeping?.cancel()
            let result = self.calls.values.compactMap(\.channel) + (self.channel.map { [$0] } ?? [])
            for call in self.calls.values { call.timer?.cancel() }
            self.calls = [:]
            return result
        }.get()) ?? []
        for channel in channels { try? await channel.close() }
    }

    // MARK: SIP

    private func receiveSIP(_ bytes: [UInt8], from source: SocketAddress) {
        perform(core.receive(bytes, from: source, now: .now()))
    }

    private func perform(_ actions: [TestEndpointUAS<SocketAddress>.Action]) {
        guard !closed else { return }
        var flush = false
        for action in actions {
            switch action {
            case .send(let bytes, let destination):
                channel?.write(AddressedEnvelope(remoteAddress: destination, data: ByteBuffer(bytes: bytes)), promise: nil)
                flush = true
            case .startMedia(let start):
                startMedia(start)
            case .stopMedia(let callID):
                stopMedia(callID)
            case .digit(let callID, let digit):
                if let call = calls[callID] {
                    call.session.play(digit)
                    logger.info("dtmf endpoint heard a digit (SIP INFO)", metadata: ["call": "\(callID)", "digit": "\(digit)"])
                }
            }
        }
        if flush { channel?.flush() }
        scheduleSIPTimer()
    }

    private func scheduleSIPTimer() {
        sipTimer?.cancel()
        sipTimer = nil
        guard let deadline = core.nextDeadline, !closed else { return }
        sipTimer = eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.sipTimer = nil
            self.perform(self.core.timeout(now: .now()))
        }
    }

    // MARK: Media

    private func startMedia(_ start: TestEndpointUAS<SocketAddress>.MediaStart) {
        guard let remote = try? SocketAddress(ipAddress: start.remoteAddress, port: start.remotePort) else {
            logger.warning("caller's RTP address is not an IP address; hanging up", metadata: ["call": "\(start.callID)", "address": "\(start.remoteAddress)"])
            perform(core.hangUp(callID: start.callID, now: .now()))
            return
        }
        let call = MediaCall(session: TestMediaSession(kind: start.kind, telephoneEventPayloadType: start.telephoneEventPayloadType, now: .now()),
                             remote: remote)
        let box = CallBox(call)
        calls[start.callID] = call
        logger.info("test call answered", metadata: ["call": "\(start.callID)", "number": "\(start.kind.rawValue)", "rtp_port": "\(start.localPort)"])
        let callID = start.callID
        DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramHandler { [weak self] bytes, source in
                        self?.receiveRTP(bytes, from: source, callID: callID)
                    })
                }
            }
            .bind(host: address, port: start.localPort)
            .whenComplete { [weak self] result in
                guard let self else { return }
                switch result {
                case .success(let channel):
                    guard let call = self.calls[callID], call === box.call, !self.closed else {
                        channel.close(promise: nil)
                        return
                    }
                    call.channel = channel
                    self.tick(callID)
                case .failure(let error):
                    self.logger.warning("cannot bind the call's RTP port; hanging up", metadata: [
                        "call": "\(callID)", "port": "\(start.localPort)", "error": "\(error)",
                    ])
                    self.perform(self.core.hangUp(callID: callID, now: .now()))
                }
            }
    }

    private func stopMedia(_ callID: String) {
        guard let call = calls.removeValue(forKey: callID) else { return }
        call.timer?.cancel()
        call.channel?.close(promise: nil)
        logger.info("test call ended", metadata: [
            "call": "\(callID)", "number": "\(call.session.kind.rawValue)", "packets_received": "\(call.session.packetsReceived)",
            "packets_sent": "\(call.session.packetsSent)", "digits": "\(call.session.digits)",
        ])
    }

    private func receiveRTP(_ bytes: [UInt8], from source: SocketAddress, callID: String) {
        guard let call = calls[callID] else { return }
        let (replies, heard) = call.session.receive(bytes, now: .now())
        if call.session.packetsReceived == 1 { call.remote = source }  // symmetric RTP: answer where it comes from
        if let heard {
            logger.info("dtmf endpoint heard a digit", metadata: ["call": "\(callID)", "digit": "\(heard)"])
        }
        send(replies, on: call)
    }

    private func send(_ datagrams: [[UInt8]], on call: MediaCall) {
        guard let channel = call.channel, !datagrams.isEmpty else { return }
        for datagram in datagrams {
            channel.write(AddressedEnvelope(remoteAddress: call.remote, data: ByteBuffer(bytes: datagram)), promise: nil)
        }
        channel.flush()
    }

    private func tick(_ callID: String) {
        guard let call = calls[callID], !closed else { return }
        send(call.session.tick(now: .now()), on: call)
        guard let deadline = call.session.nextDeadline else { return }
        call.timer = eventLoop.scheduleTask(deadline: deadline) { [weak self] in self?.tick(callID) }
    }

    private func hangUpSilentCalls() {
        let now = NIODeadline.now()
        for (callID, call) in calls where now - call.session.lastReceived > silenceLimit {
            logger.notice("no RTP from the caller; hanging up", metadata: ["call": "\(callID)"])
            perform(core.hangUp(callID: callID, now: now))
        }
    }
}

/// Carries a call (confined to the loop) into a completion handler that runs on the same loop.
private struct CallBox: @unchecked Sendable {
    let call: AnyObject
    init(_ call: AnyObject) { self.call = call }
}

/// Hands every datagram to a closure on the channel's loop.
private final class DatagramHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let onDatagram: ([UInt8], SocketAddress) -> Void

    init(_ onDatagram: @escaping ([UInt8], SocketAddress) -> Void) { self.onDatagram = onDatagram }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        onDatagram(Array(envelope.data.readableBytesView), envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An ICMP error or a failed read on a UDP socket changes nothing: keep the socket.
    }
}
