// The IO driver of a WebRTC leg: one UDP socket on the call's event loop, carrying whatever the
// WebRTCLegCore decides (STUN answers, DTLS flights, SRTP), and one timer at the core's next
// deadline. Everything about the leg happens on that loop: no locks on the packet path.

import ICE
import NIOCore

public final class WebRTCLeg: @unchecked Sendable {  // confined to `eventLoop`
    private let core: WebRTCLegCore
    private var socket: MediaSocket!
    private let onEvent: @Sendable (WebRTCLegEvent) -> Void
    private let onRTP: @Sendable ([UInt8]) -> Void
    private let onRTCP: @Sendable ([UInt8]) -> Void

    public var eventLoop: any EventLoop { socket.eventLoop }

    private init(core: WebRTCLegCore, onEvent: @escaping @Sendable (WebRTCLegEvent) -> Void,
                 onRTP: @escaping @Sendable ([UInt8]) -> Void, onRTCP: @escaping @Sendable ([UInt8]) -> Void) {
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
        let leg = WebRTCLeg(core: core, onEvent: onEvent, onRTP: onRTP, onRTCP: onRTCP)
        leg.socket = try await MediaSocket.bind(address: address, port: port, on: eventLoop) { bytes, source in
            leg.perform(leg.core.receive(bytes, from: source, now: .now()))
        }
        try await eventLoop.submit { leg.reschedule() }.get()
        return leg
    }

    /// The socket's bound address.
    public var localAddress: SocketAddress? { socket.localAddress }

    /// Sends an RTP packet (encrypted by the core) to the browser, once connected.
    public func send(rtp packet: [UInt8]) {
        if eventLoop.inEventLoop {
            perform(core.send(rtp: packet))
        } else {
            eventLoop.execute { self.perform(self.core.send(rtp: packet)) }
        }
    }

    /// Restarts ICE (a re-INVITE with new credentials) on the leg's loop.
    public func restartICE(local: ICECredentials, remoteUfrag: String, remotePassword: String) {
        eventLoop.execute { self.perform(self.core.restartICE(local: local, remoteUfrag: remoteUfrag, remotePassword: remotePassword, now: .now())) }
    }

    /// The SRTP profile, selected pair and counters, read on the leg's loop.
    public func status() async throws -> WebRTCLegStatus {
        try await eventLoop.submit { self.core.status }.get()
    }

    /// Sends an RTCP compound packet to the browser, once connected.
    public func send(rtcp packet: [UInt8]) {
        eventLoop.execute { self.perform(self.core.send(rtcp: packet)) }
    }

    /// Counters, read on the leg's loop.
    public func counters() async throws -> WebRTCLegCounters {
        try await eventLoop.submit { self.core.counters }.get()
    }

    public func close() async { await socket.close() }

    // MARK: On the loop

    private func perform(_ output: WebRTCLegOutput) {
        socket.send(output.datagrams)
        for event in output.events { onEvent(event) }
        for packet in output.rtp { onRTP(packet) }
        for packet in output.rtcp { onRTCP(packet) }
        reschedule()
    }

    private func reschedule() {
        socket.schedule(at: core.nextDeadline) { [weak self] in
            guard let self else { return }
            self.perform(self.core.timeout(now: .now()))
        }
    }
}
