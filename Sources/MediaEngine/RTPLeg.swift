// The IO driver of a trunk's RTP leg: the RTP socket (and the RTCP socket on the next port unless
// rtcp-mux was agreed) on the call's event loop, carrying what the RTPLegCore decides, with one
// timer for reports and the media timeout.

import NIOCore
import RTP

public final class RTPLeg: @unchecked Sendable {  // confined to its event loop
    private let core: RTPLegCore
    private var rtpSocket: MediaSocket!
    private var rtcpSocket: MediaSocket?
    /// Set on the loop once the sockets are assigned; datagrams before that are dropped.
    private var ready = false
    private let onEvent: @Sendable (RTPLegEvent) -> Void
    private let onRTP: @Sendable ([UInt8]) -> Void
    /// The packet path for RTP (a relayed call): the packet stays in the loop's receive buffer,
    /// its header parsed once; nil hands RTP to `onRTP` as an array.
    var onRTPInPlace: ((UnsafeMutableRawBufferPointer, Int, RTPHeader) -> Void)?

    public var eventLoop: MediaLoop { rtpSocket.eventLoop }

    private init(core: RTPLegCore, onEvent: @escaping @Sendable (RTPLegEvent) -> Void, onRTP: @escaping @Sendable ([UInt8]) -> Void) {
        self.core = core
        self.onEvent = onEvent
        self.onRTP = onRTP
    }

    /// Binds the even `port` for RTP (and `port + 1` for RTCP without rtcp-mux) on `eventLoop`.
    public static func open(address: String, port: Int, on eventLoop: MediaLoop, core: RTPLegCore,
                            onEvent: @escaping @Sendable (RTPLegEvent) -> Void, onRTP: @escaping @Sendable ([UInt8]) -> Void) async throws -> RTPLeg {
        let leg = RTPLeg(core: core, onEvent: onEvent, onRTP: onRTP)
        // A trunk may send as soon as it has answered: datagrams that come before the leg is wired
        // to its sockets are dropped, never handled half-set.
        let rtpSocket = try await MediaSocket.bind(address: address, port: port, on: eventLoop) { bytes, source in
            guard leg.ready else { return }
            leg.perform(leg.core.receive(bytes, from: source, now: eventLoop.wakeTime))
        }
        var rtcpSocket: MediaSocket?
        if !core.settings.rtcpMux {
            do {
                rtcpSocket = try await MediaSocket.bind(address: address, port: port + 1, on: eventLoop) { bytes, source in
                    guard leg.ready else { return }
                    leg.perform(leg.core.receive(bytes, from: source, rtcpPort: true, now: eventLoop.wakeTime))
                }
            } catch {
                await rtpSocket.close()
                throw error
            }
        }
        try await eventLoop.submit { [rtcpSocket] in
            rtpSocket.fastPath = { [unowned leg] buffer, length, source in
                guard leg.ready, let relay = leg.onRTPInPlace else { return false }
                switch leg.core.receiveRTP(inPlace: UnsafeRawBufferPointer(rebasing: buffer[..<length]), from: source, now: eventLoop.wakeTime) {
                case .other: return false
                case .dropped: return true
                case .rtp(let length, let header):
                    relay(buffer, length, header)
                    return true
                }
            }
            leg.rtpSocket = rtpSocket
            leg.rtcpSocket = rtcpSocket
            rtpSocket.timer.onFire = { [weak leg] in
                guard let leg else { return }
                leg.perform(leg.core.timeout(now: leg.eventLoop.wakeTime))
            }
            leg.ready = true
            leg.reschedule()
        }.get()
        return leg
    }

    public var localAddress: SocketAddress? { rtpSocket.localAddress }

    /// Sends an RTP packet to the trunk (not while on hold).
    public func send(rtp packet: [UInt8]) {
        if eventLoop.inEventLoop {
            sendOnLoop(rtp: packet)
        } else {
            eventLoop.execute { self.sendOnLoop(rtp: packet) }
        }
    }

    /// `send(rtp:)` from the leg's own loop (the bridge), without asking which thread this is.
    func sendOnLoop(rtp packet: [UInt8]) { perform(core.send(rtp: packet, now: eventLoop.wakeTime)) }

    /// Sends an RTP packet where it lies (the packet path; on the loop), unless on hold.
    func sendInPlace(_ buffer: UnsafeMutableRawBufferPointer, length: Int, header: RTPHeader) {
        guard let destination = core.sendRTP(header, now: eventLoop.wakeTime) else { return }
        rtpSocket.send(UnsafeRawBufferPointer(rebasing: buffer[..<length]), to: destination)
    }

    /// A new remote address and direction after a re-INVITE (hold, resume, a moved peer).
    public func update(remote: SocketAddress?, direction: RTPLegCore.Direction) {
        eventLoop.execute {
            if let remote { self.core.setRemote(remote) }
            self.core.setDirection(direction, now: self.eventLoop.wakeTime)
            self.reschedule()
        }
    }

    /// Where media goes, the direction and the counters, read on the leg's loop.
    public func status() async throws -> RTPLegStatus {
        try await eventLoop.submit { self.core.status }.get()
    }

    public func counters() async throws -> RTPLegCounters {
        try await eventLoop.submit { self.core.counters }.get()
    }

    /// Reads the leg's sockets every `interval` instead of on each datagram (see `MediaPoller`).
    public func readInBatches(every interval: TimeAmount) {
        guard eventLoop.inEventLoop else { return eventLoop.execute { self.readInBatches(every: interval) } }
        rtpSocket.readInBatches(every: interval)
        rtcpSocket?.readInBatches(every: interval)
    }

    public func close() async {
        await rtpSocket.close()
        await rtcpSocket?.close()
    }

    // MARK: On the loop

    private func perform(_ output: RTPLegOutput) {
        if let rtcpSocket {
            // Reports go out of the RTCP socket (symmetric RTCP, RFC 4961); only then are the
            // datagrams sorted, so the common case (rtcp-mux, or a packet of media) sends as is.
            let rtcpAddress = core.remoteRTCPAddress
            let isReport = { (datagram: (bytes: [UInt8], to: SocketAddress)) in
                datagram.to == rtcpAddress && PacketKind.classify(datagram.bytes) == .rtcp
            }
            if output.datagrams.contains(where: isReport) {
                rtpSocket.send(output.datagrams.filter { !isReport($0) })
                rtcpSocket.send(output.datagrams.filter(isReport))
            } else {
                rtpSocket.send(output.datagrams)
            }
        } else {
            rtpSocket.send(output.datagrams)
        }
        for event in output.events { onEvent(event) }
        for packet in output.rtp { onRTP(packet) }
        reschedule()
    }

    private func reschedule() { rtpSocket.timer.schedule(at: core.nextDeadline) }
}
