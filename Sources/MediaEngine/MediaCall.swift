// The media of one call on its event loop: the WebRTC leg toward the browser, the RTP leg toward
// the trunk, and the bridge between them. Every packet of the call is handled on that loop, from
// the socket read through SRTP, the bridge and the codecs to the socket write, with no lock and
// no hop to another thread. A leg that fails (DTLS fingerprint mismatch, ICE consent lost, RTP
// timeout) is reported once through `onFailure`, and the signaling side ends the call.

import AudioCodecs
import ICE
import NIOCore
import RTP

/// Where a call's legs listen and what they agreed on.
public struct MediaCallPlan: Sendable {
    public var webAddress: String
    public var webPort: Int
    public var trunkAddress: String
    public var trunkPort: Int
    public var web: BridgeStream
    public var trunk: BridgeStream
    public var opus: OpusEncoderSettings
    public var detectInbandDTMF: Bool
    /// Read the call's sockets in batches at this interval (see `MediaPoller`); nil reads each
    /// datagram as it arrives.
    public var readInterval: TimeAmount?

    public init(webAddress: String, webPort: Int, trunkAddress: String, trunkPort: Int, web: BridgeStream, trunk: BridgeStream,
                opus: OpusEncoderSettings, detectInbandDTMF: Bool, readInterval: TimeAmount? = nil) {
        self.webAddress = webAddress
        self.webPort = webPort
        self.trunkAddress = trunkAddress
        self.trunkPort = trunkPort
        self.web = web
        self.trunk = trunk
        self.opus = opus
        self.detectInbandDTMF = detectInbandDTMF
        self.readInterval = readInterval
    }
}

/// Call detail status of a call's media.
public struct MediaCallStatus: Sendable, Equatable {
    public var mode: MediaBridge.Mode
    public var web: WebRTCLegStatus
    public var trunk: RTPLegStatus
    public var bridge: MediaBridgeCounters
}

public final class MediaCall: @unchecked Sendable {  // confined to `eventLoop`
    public let eventLoop: MediaLoop
    private let bridge: MediaBridge
    private var web: WebRTCLeg?
    private var trunk: RTPLeg?
    private var failed = false
    /// The bridge's next made-up DTMF packet (RFC 4733 pacing).
    private let digitTimer: LoopTimer
    private let onFailure: @Sendable (MediaFailureCause) -> Void

    private init(eventLoop: MediaLoop, bridge: MediaBridge, onFailure: @escaping @Sendable (MediaFailureCause) -> Void) {
        self.eventLoop = eventLoop
        self.bridge = bridge
        self.onFailure = onFailure
        digitTimer = LoopTimer(on: eventLoop)
        digitTimer.onFire = { [weak self] in
            guard let self else { return }
            let (toTrunk, toWeb) = self.bridge.timeout(now: self.eventLoop.wakeTime)
            for packet in toTrunk { self.trunk?.sendOnLoop(rtp: packet) }
            for packet in toWeb { self.web?.sendOnLoop(rtp: packet) }
            self.scheduleDigits()
        }
    }

    public var mode: MediaBridge.Mode { bridge.mode }

    /// Opens both legs' sockets on `eventLoop` and starts relaying or transcoding.
    /// - Parameter listening: the WebRTC leg's socket when it was bound at offer time (see
    ///   `WebRTCLeg.listen`); otherwise it is bound here.
    public static func start(plan: MediaCallPlan, webCore: WebRTCLegCore, trunkCore: RTPLegCore, on eventLoop: MediaLoop,
                             listening: WebRTCLeg? = nil, onWebEvent: @escaping @Sendable (WebRTCLegEvent) -> Void = { _ in },
                             onFailure: @escaping @Sendable (MediaFailureCause) -> Void) async throws -> MediaCall {
        let bridge = try MediaBridge(web: plan.web, trunk: plan.trunk, opus: plan.opus, detectInbandDTMF: plan.detectInbandDTMF)
        let call = MediaCall(eventLoop: eventLoop, bridge: bridge, onFailure: onFailure)
        let trunk = try await RTPLeg.open(
            address: plan.trunkAddress, port: plan.trunkPort, on: eventLoop, core: trunkCore,
            onEvent: { event in
                if case .mediaTimeout = event { call.fail(.rtpTimeout) }
            },
            onRTP: { packet in call.fromTrunk(packet) })
        do {
            let web: WebRTCLeg
            if let listening { web = listening } else { web = try await WebRTCLeg.listen(address: plan.webAddress, port: plan.webPort, on: eventLoop) }
            try await web.attach(webCore, onEvent: { event in
                onWebEvent(event)
                if case .failed(let cause) = event { call.fail(cause) }
            }, onRTP: { packet in call.fromWeb(packet) })
            try await eventLoop.submit {
                call.web = web
                call.trunk = trunk
                if call.mode == .relay {
                    // Relayed media stays in the loop's receive buffer from socket to socket.
                    web.onRTPInPlace = { [weak call] buffer, length, header in call?.relayFromWeb(buffer, length: length, header: header) }
                    trunk.onRTPInPlace = { [weak call] buffer, length, header in call?.relayFromTrunk(buffer, length: length, header: header) }
                }
                if let interval = plan.readInterval {
                    web.readInBatches(every: interval)
                    trunk.readInBatches(every: interval)
                }
            }.get()
        } catch {
            await trunk.close()
            throw error
        }
        return call
    }

    /// A DTMF digit from a SIP INFO of the browser, sent to the trunk as RFC 4733 events.
    public func sendDigit(_ digit: Character, durationMilliseconds: Int) {
        eventLoop.execute {
            if self.bridge.queueDigitTowardTrunk(digit, durationMilliseconds: durationMilliseconds) { self.scheduleDigits() }
        }
    }

    /// A completed re-INVITE: the browser's new ICE credentials when it restarted ICE, then the
    /// trunk's address and direction. Applied on the call's loop in this order, after whatever
    /// the loop was already doing for the call.
    public func renegotiate(iceRestart: (local: ICECredentials, ufrag: String, password: String)?, trunkRemote: SocketAddress?,
                            trunkDirection: RTPLegCore.Direction) {
        eventLoop.execute {
            if let iceRestart { self.web?.restartICE(local: iceRestart.local, remoteUfrag: iceRestart.ufrag, remotePassword: iceRestart.password) }
            self.trunk?.update(remote: trunkRemote, direction: trunkDirection)
        }
    }

    public var webLeg: WebRTCLeg? { get async { try? await eventLoop.submit { self.web }.get() } }
    public var trunkLeg: RTPLeg? { get async { try? await eventLoop.submit { self.trunk }.get() } }

    public func status() async throws -> MediaCallStatus? {
        let (web, trunk, counters) = try await eventLoop.submit { (self.web, self.trunk, self.bridge.counters) }.get()
        guard let web, let trunk, let webStatus = try await web.status() else { return nil }
        return MediaCallStatus(mode: bridge.mode, web: webStatus, trunk: try await trunk.status(), bridge: counters)
    }

    public func close() async {
        let (web, trunk) = (try? await eventLoop.submit { () -> (WebRTCLeg?, RTPLeg?) in
            self.digitTimer.cancel()
            let legs = (self.web, self.trunk)
            self.web?.onRTPInPlace = nil
            self.trunk?.onRTPInPlace = nil
            self.web = nil
            self.trunk = nil
            return legs
        }.get()) ?? (nil, nil)
        await web?.close()
        await trunk?.close()
    }

    // MARK: On the loop

    private func fromWeb(_ packet: [UInt8]) {
        guard let trunk else { return }
        for out in bridge.fromWeb(packet) { trunk.sendOnLoop(rtp: out) }
    }

    private func relayFromWeb(_ buffer: UnsafeMutableRawBufferPointer, length: Int, header: RTPHeader) {
        guard let trunk else { return }
        switch bridge.relayFromWeb(inPlace: buffer, length: length, header: header) {
        case .packet(let length, let header): trunk.sendInPlace(buffer, length: length, header: header)
        case .dropped: break
        case .general: fromWeb([UInt8](UnsafeRawBufferPointer(rebasing: buffer[..<length])))
        }
    }

    private func relayFromTrunk(_ buffer: UnsafeMutableRawBufferPointer, length: Int, header: RTPHeader) {
        guard let web else { return }
        switch bridge.relayFromTrunk(inPlace: buffer, length: length, header: header) {
        case .packet(let length, let header): web.sendInPlace(buffer, length: length, header: header)
        case .dropped: break
        case .general: fromTrunk([UInt8](UnsafeRawBufferPointer(rebasing: buffer[..<length])))
        }
    }

    private func fromTrunk(_ packet: [UInt8]) {
        guard let web else { return }
        for out in bridge.fromTrunk(packet) { web.sendOnLoop(rtp: out) }
        if !digitTimer.isSet { scheduleDigits() }  // a digit detected in band
    }

    /// Keeps the digit timer at the bridge's next made-up DTMF packet, if any.
    private func scheduleDigits() {
        if let deadline = bridge.nextDeadline { digitTimer.schedule(at: deadline) }
    }

    private func fail(_ cause: MediaFailureCause) {
        guard !failed else { return }
        failed = true
        onFailure(cause)
    }
}
