// The IO driver of a WebRTC leg: one UDP socket on the call's event loop, carrying whatever the
// WebRTCLegCore decides (STUN answers, DTLS flights, SRTP), and one timer at the core's next
// deadline. Everything about the leg happens on that loop: no locks on the packet path.

import ICE
import NIOCore
import RTP

public final class WebRTCLeg: @unchecked Sendable {  // confined to `eventLoop`
    private var core: WebRTCLegCore?
    private var socket: MediaSocket!
    private var onEvent: @Sendable (WebRTCLegEvent) -> Void = { _ in }
    private var onRTP: @Sendable ([UInt8]) -> Void = { _ in }
    private var onRTCP: @Sendable ([UInt8]) -> Void = { _ in }
    /// Datagrams that arrived before the core (the browser's answer) did: a browser answering
    /// Tandem's offer starts its ICE checks before its answer reaches Tandem.
    private var early: [([UInt8], SocketAddress)] = []
    private static let earlyLimit = 64
    /// The packet path for decrypted RTP (a relayed call): the packet stays in the loop's receive
    /// buffer, its header parsed once; nil hands RTP to `onRTP` as an array.
    var onRTPInPlace: ((UnsafeMutableRawBufferPointer, Int, RTPHeader) -> Void)?
    /// How many early datagrams the core got at attach (for diagnostics).
    public private(set) var earlyReplayed = 0

    public var eventLoop: MediaLoop { socket.eventLoop }

    private init() {}

    /// Binds the leg's socket at `address`:`port` on `eventLoop` and starts serving it.
    public static func open(
        address: String, port: Int, on eventLoop: MediaLoop, core: WebRTCLegCore,
        onEvent: @escaping @Sendable (WebRTCLegEvent) -> Void, onRTP: @escaping @Sendable ([UInt8]) -> Void,
        onRTCP: @escaping @Sendable ([UInt8]) -> Void = { _ in }
    ) async throws -> WebRTCLeg {
        let leg = try await listen(address: address, port: port, on: eventLoop)
        try await leg.attach(core, onEvent: onEvent, onRTP: onRTP, onRTCP: onRTCP)
        return leg
    }

    /// Binds the socket before the leg's core exists (an offer sent, no answer yet): what
    /// arrives is kept (up to 64 datagrams) for the core `attach` brings.
    public static func listen(address: String, port: Int, on eventLoop: MediaLoop) async throws -> WebRTCLeg {
        let leg = WebRTCLeg()
        let socket = try await MediaSocket.bind(address: address, port: port, on: eventLoop) { bytes, source in
            if let core = leg.core {
                leg.perform(core.receive(bytes, from: source, now: eventLoop.wakeTime))
            } else if leg.early.count < Self.earlyLimit {
                leg.early.append((bytes, source))
            }
        }
        try await eventLoop.submit {
            socket.fastPath = { [unowned leg] buffer, length, source in
                guard let core = leg.core, let relay = leg.onRTPInPlace else { return false }
                switch core.receiveRTP(inPlace: buffer, length: length, from: source, now: eventLoop.wakeTime) {
                case .other: return false
                case .dropped: return true
                case .rtp(let length, let header):
                    relay(buffer, length, header)
                    return true
                }
            }
            socket.timer.onFire = { [weak leg] in
                guard let leg, let core = leg.core else { return }
                leg.perform(core.timeout(now: leg.eventLoop.wakeTime))
            }
        }.get()
        leg.socket = socket
        return leg
    }

    /// Gives a listening leg its core and handlers, and feeds it what arrived meanwhile.
    public func attach(_ core: WebRTCLegCore, onEvent: @escaping @Sendable (WebRTCLegEvent) -> Void,
                       onRTP: @escaping @Sendable ([UInt8]) -> Void, onRTCP: @escaping @Sendable ([UInt8]) -> Void = { _ in }) async throws {
        nonisolated(unsafe) let core = core
        try await eventLoop.submit {
            self.core = core
            self.onEvent = onEvent
            self.onRTP = onRTP
            self.onRTCP = onRTCP
            let early = self.early
            self.early = []
            self.earlyReplayed = early.count
            for (bytes, source) in early { self.perform(core.receive(bytes, from: source, now: self.eventLoop.wakeTime)) }
            self.reschedule()
        }.get()
    }

    /// The socket's bound address.
    public var localAddress: SocketAddress? { socket.localAddress }

    /// Sends an RTP packet (encrypted by the core) to the browser, once connected.
    public func send(rtp packet: [UInt8]) {
        if eventLoop.inEventLoop {
            sendOnLoop(rtp: packet)
        } else {
            eventLoop.execute { self.sendOnLoop(rtp: packet) }
        }
    }

    /// `send(rtp:)` from the leg's own loop (the bridge), without asking which thread this is.
    func sendOnLoop(rtp packet: [UInt8]) { if let core { perform(core.send(rtp: packet, now: eventLoop.wakeTime)) } }

    /// Encrypts and sends an RTP packet where it lies (the packet path; on the loop): `buffer` has
    /// room for the SRTP trailer after the packet's `length` bytes.
    func sendInPlace(_ buffer: UnsafeMutableRawBufferPointer, length: Int, header: RTPHeader) {
        guard let core, let (protected, destination) = core.sendRTP(inPlace: buffer, length: length, header: header, now: eventLoop.wakeTime)
        else { return }
        socket.send(UnsafeRawBufferPointer(rebasing: buffer[..<protected]), to: destination)
    }

    /// Restarts ICE (a re-INVITE with new credentials) on the leg's loop.
    public func restartICE(local: ICECredentials, remoteUfrag: String, remotePassword: String) {
        eventLoop.execute {
            guard let core = self.core else { return }
            self.perform(core.restartICE(local: local, remoteUfrag: remoteUfrag, remotePassword: remotePassword, now: self.eventLoop.wakeTime))
        }
    }

    /// The SRTP profile, selected pair and counters, read on the leg's loop.
    public func status() async throws -> WebRTCLegStatus? {
        try await eventLoop.submit { self.core?.status }.get()
    }

    /// Sends an RTCP compound packet to the browser, once connected.
    public func send(rtcp packet: [UInt8]) {
        eventLoop.execute { if let core = self.core { self.perform(core.send(rtcp: packet)) } }
    }

    /// Counters, read on the leg's loop.
    public func counters() async throws -> WebRTCLegCounters {
        try await eventLoop.submit { self.core?.counters ?? WebRTCLegCounters() }.get()
    }

    /// Reads the leg's socket every `interval` instead of on each datagram (see `MediaPoller`).
    public func readInBatches(every interval: TimeAmount) {
        guard eventLoop.inEventLoop else { return eventLoop.execute { self.readInBatches(every: interval) } }
        socket.readInBatches(every: interval)
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

    private func reschedule() { socket.timer.schedule(at: core?.nextDeadline) }
}
