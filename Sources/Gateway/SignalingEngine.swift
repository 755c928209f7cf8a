// The IO driver of the signaling core: takes what the SIP transport delivers, feeds the sans-IO
// SignalingCore with the current time, sends what it returns, and runs its timers. One actor
// owns the core, so transactions, dialogs and registrations are never shared by mutation.

import Logging
import MediaEngine
import NIOCore
import SIP
import SIPTransport
import TandemConfig

/// What a drain did.
public struct DrainOutcome: Sendable, Equatable {
    /// Calls that ended by themselves during the drain.
    public var endedNaturally: Int
    /// Calls still up at the deadline, ended by the gateway.
    public var endedByDeadline: Int

    public init(endedNaturally: Int, endedByDeadline: Int) {
        self.endedNaturally = endedNaturally
        self.endedByDeadline = endedByDeadline
    }
}

public actor SignalingEngine {
    /// Timers: the engine sleeps until the core's next deadline (at most a second), and any change
    /// to the core (a message, a timeout, a hang-up, a reload) makes that deadline stale and wakes
    /// the timer within 20 ms (T1 granularity) to ask again. Asking walks every transaction and
    /// call, so it is done at most once per 20 ms, never per message; and with calls up and no
    /// signaling, the engine sleeps instead of waking 50 times a second.
    private var core: SignalingCore<SIPDestination> {
        didSet {
            deadlineKnown = false
            if !ticking { wakeTimer() }
            if drainWaiter != nil && core.activeCalls == 0 { endDrainWait() }
        }
    }
    /// A drain waiting for the last call to end, and its deadline.
    private var drainWaiter: CheckedContinuation<Void, Never>?
    private var drainDeadline: Task<Void, Never>?
    private var deadlineKnown = false
    private var deadline: NIODeadline?
    private var timer: Task<Void, Never>?
    private var timerWake = NIODeadline.uptimeNanoseconds(0)
    private var ticking = false
    /// Between the start and the end of `run()`: no timer outlives it.
    private var running = false
    private static let granularity = TimeAmount.milliseconds(20)
    private let transport: SIPTransportLayer
    private let logger: Logger
    private var callEndedHandler: (@Sendable ([CallRecord]) -> Void)?

    public init(transport: SIPTransportLayer, configuration: TandemConfiguration, logger: Logger,
                sessions: any SessionManager = NoMediaSessionManager(), timers: SIPTimerValues = .standard) {
        self.transport = transport
        self.logger = logger
        core = SignalingCore(
            userAgent: configuration.sip.userAgent, web: configuration.web, users: configuration.users,
            routing: SignalingEngine.routing(configuration, bound: transport.bound, logger: logger), sessions: sessions, timers: timers)
    }

    /// Applies a reloaded configuration (users, realm, user agent, trunks, dial plan).
    public func reconfigure(_ configuration: TandemConfiguration) {
        core.reconfigure(userAgent: configuration.sip.userAgent, web: configuration.web, users: configuration.users,
                         routing: SignalingEngine.routing(configuration, bound: transport.bound, logger: logger))
    }

    /// Calls in progress or established.
    public var activeCalls: Int { core.activeCalls }

    /// Ends a call because its media failed (consent lost, fingerprint mismatch, media timeout):
    /// BYE on both legs with a Reason header.
    public func endCall(_ callID: String, mediaFailure cause: MediaFailureCause) async {
        await perform(core.endCall(callID, mediaFailure: cause, now: .now()))
    }

    /// An operator ends a call: BYE on both legs with `Reason: SIP;cause=200`. False when there
    /// is no such call.
    public func hangUp(_ callID: String) async -> Bool {
        guard core.callRecords.contains(where: { $0.id == callID }) else { return false }
        await perform(core.hangUp(callID, now: .now()))
        return true
    }

    /// Calls in progress.
    public var callRecords: [CallRecord] { core.callRecords }

    /// Called with every call that ends (for CDRs), from the engine's actor.
    public func onCallEnded(_ handler: @escaping @Sendable ([CallRecord]) -> Void) {
        callEndedHandler = handler
    }

    /// Whether new calls are taken (false while draining: they get 503).
    public var admitting: Bool {
        get { core.admitting }
    }

    public func setAdmitting(_ admitting: Bool) { core.admitting = admitting }

    /// Registered contacts now, per user.
    public var registrationBindings: [(user: String, contact: String, expiresIn: Double)] {
        let now = NIODeadline.now()
        return core.registrationList(now: now)
    }

    public var trunkList: [TrunkStatus] { core.trunkList }

    /// Supervised trunks' availability and registration.
    public var trunkStates: [String: String] { core.trunkStates }

    /// Stops admitting calls (503), waits up to `timeout` for the calls in progress to end, then
    /// ends the rest (BYE, or 503 and CANCEL for unanswered ones).
    public func drain(timeout: Duration) async -> DrainOutcome {
        core.admitting = false
        let atStart = core.activeCalls
        if atStart > 0 {
            // Woken by the change that ends the last call, or by the deadline.
            await withCheckedContinuation { continuation in
                drainWaiter = continuation
                drainDeadline = Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    await self?.endDrainWait()
                }
            }
            drainDeadline?.cancel()
            drainDeadline = nil
        }
        let remaining = core.activeCalls
        if remaining > 0 {
            await perform(core.endAllCalls(now: .now()))
        }
        return DrainOutcome(endedNaturally: atStart - remaining, endedByDeadline: remaining)
    }

    private func endDrainWait() {
        drainWaiter?.resume()
        drainWaiter = nil
    }

    /// How the core names Tandem and reaches trunks and browsers, from the configuration and the
    /// listeners as bound. Trunk host names are resolved here, once per (re)load.
    static func routing(_ configuration: TandemConfiguration, bound: [BoundSIPListener], logger: Logger) -> CallRouting<SIPDestination> {
        var endpoints: [SIPTransportKind: LocalEndpoint] = [:]
        for listener in bound where endpoints[listener.transport] == nil {
            let configured = configuration.sip.listeners.first { $0.transport == listener.transport && $0.address == listener.address }
            var host = configured?.advertisedAddress ?? configuration.advertisedAddress ?? listener.address
            if host == "0.0.0.0" || host == "::" { host = configuration.media.interfaces.first?.advertisedAddress ?? configuration.media.interfaces.first?.address ?? "127.0.0.1" }
            endpoints[listener.transport] = LocalEndpoint(transport: listener.transport, host: host, port: listener.port)
        }
        var destinations: [String: SIPDestination] = [:]
        for trunk in configuration.trunks {
            do {
                let address = try SocketAddress.makeAddressResolvingHost(trunk.address, port: trunk.port)
                destinations[trunk.name] = .address(trunk.transport, address, serverName: IPAddressBytes(trunk.address) == nil ? trunk.address : nil)
            } catch {
                logger.warning("cannot resolve trunk address", metadata: ["trunk": "\(trunk.name)", "address": "\(trunk.address)", "error": "\(error)"])
            }
        }
        let resolved = destinations
        return CallRouting(
            node: configuration.node, trunks: configuration.trunks, dialPlan: configuration.dialPlan, endpoints: endpoints,
            trunkDestination: { resolved[$0.name] }, connectionDestination: { .connection(ConnectionID(rawValue: $0)) })
    }

    /// Contacts registered now.
    public var registrations: Int { core.registrations }

    public var counters: SignalingCounters { core.counters }

    /// Runs until the transport closes: messages in order, timers at T1 granularity or better.
    public func run() async {
        running = true
        startTimer(after: Self.granularity)
        defer {
            running = false
            timer?.cancel()
            timer = nil
        }
        for await event in transport.events {
            switch event {
            case .message(let message):
                await handle(message)
            case .connectionClosed(let id, _):
                await perform(core.connectionClosed(id.rawValue, now: .now()))
            }
        }
    }

    private func handle(_ message: InboundSIPMessage) async {
        let replyTo: SIPDestination
        if let connection = message.connection {
            replyTo = .connection(connection)
        } else {
            replyTo = .address(message.transport, message.source)
        }
        let inbound = InboundSIP(
            bytes: Array(message.bytes.readableBytesView), replyTo: replyTo,
            sourceHost: message.source.ipAddress ?? "", sourcePort: message.source.port ?? 0,
            transport: message.transport, connection: message.connection?.rawValue)
        await perform(core.receive(inbound, now: .now()))
    }

    private func tick() async {
        ticking = true
        let now = NIODeadline.now()
        if let due = nextDeadline(), due <= now { await perform(core.timeout(now: now)) }
        ticking = false
        // Next: the core's deadline, no sooner than the granularity and no later than a second.
        let wait = nextDeadline().map { min(max($0 - .now(), Self.granularity), .seconds(1)) } ?? .seconds(1)
        startTimer(after: wait)
    }

    /// The core's next deadline, asked again only when the core has changed since.
    private func nextDeadline() -> NIODeadline? {
        if !deadlineKnown {
            deadline = core.nextDeadline
            deadlineKnown = true
        }
        return deadline
    }

    private func startTimer(after delay: TimeAmount) {
        timer?.cancel()
        guard running else { return }
        timerWake = .now() + delay
        timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(max(0, delay.nanoseconds)))
            guard !Task.isCancelled else { return }
            await self?.tick()
        }
    }

    /// The core changed: its deadline may be sooner than the timer's wake-up.
    private func wakeTimer() {
        guard timer != nil, timerWake > .now() + Self.granularity else { return }
        startTimer(after: Self.granularity)
    }

    private func perform(_ effects: [SignalingEffect<SIPDestination>]) async {
        let ended = core.takeEndedCalls()
        if !ended.isEmpty { callEndedHandler?(ended) }
        for effect in effects {
            switch effect {
            case .send(let bytes, let destination):
                let logger = self.logger
                transport.post(ByteBuffer(bytes: bytes), to: destination) { error in
                    logger.debug("SIP send failed", metadata: ["to": "\(destination)", "error": "\(error)"])
                }
            case .note(let text, let call):
                logger.debug("\(text)", metadata: call.map { ["call": "\($0)"] })
            case .log(let line):
                var metadata: Logger.Metadata = [:]
                for (key, value) in line.fields { metadata[key] = .string(value) }
                switch line.level {
                case .info: logger.info("\(line.message)", metadata: metadata)
                case .notice: logger.notice("\(line.message)", metadata: metadata)
                case .warning: logger.warning("\(line.message)", metadata: metadata)
                }
            }
        }
    }
}
