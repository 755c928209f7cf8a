// The IO driver of the signaling core: takes what the SIP transport delivers, feeds the sans-IO
// SignalingCore with the current time, sends what it returns, and runs its timers. One actor
// owns the core, so transactions, dialogs and registrations are never shared by mutation.

import Logging
import NIOCore
import SIP
import SIPTransport
import TandemConfig

public actor SignalingEngine {
    private var core: SignalingCore<SIPDestination>
    private let transport: SIPTransportLayer
    private let logger: Logger

    public init(transport: SIPTransportLayer, configuration: TandemConfiguration, logger: Logger, timers: SIPTimerValues = .standard) {
        self.transport = transport
        self.logger = logger
        core = SignalingCore(userAgent: configuration.sip.userAgent, web: configuration.web, users: configuration.users, timers: timers)
    }

    /// Applies a reloaded configuration (users, realm, user agent).
    public func reconfigure(_ configuration: TandemConfiguration) {
        core.reconfigure(userAgent: configuration.sip.userAgent, web: configuration.web, users: configuration.users)
    }

    /// Contacts registered now.
    public var registrations: Int { core.registrations }

    public var counters: SignalingCounters { core.counters }

    /// Runs until the transport closes: messages in order, timers at T1 granularity or better.
    public func run() async {
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
                await self?.tick()
            }
        }
        defer { ticker.cancel() }
        for await event in transport.events {
            switch event {
            case .message(let message):
                await handle(message)
            case .connectionClosed(let id, _):
                core.connectionClosed(id.rawValue)
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
        let now = NIODeadline.now()
        guard let deadline = core.nextDeadline, deadline <= now else { return }
        await perform(core.timeout(now: now))
    }

    private func perform(_ effects: [SignalingEffect<SIPDestination>]) async {
        for effect in effects {
            switch effect {
            case .send(let bytes, let destination):
                do {
                    try await transport.send(ByteBuffer(bytes: bytes), to: destination)
                } catch {
                    logger.debug("SIP send failed", metadata: ["to": "\(destination)", "error": "\(error)"])
                }
            case .note(let text):
                logger.debug("\(text)")
            }
        }
    }
}
