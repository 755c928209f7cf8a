// The state the transport layer's channel handlers share: the connection table (ids, the
// addresses a connection may be reused for per RFC 3261 §18.2.2 / §18.1.1, pending outbound
// connects), every open stream channel (so shutdown can close them), and the event stream the
// SIP stack consumes. Everything here is behind one lock and safe from any event loop.

import Logging
import NIOConcurrencyHelpers
import NIOCore
import SIP

/// The key under which a stream connection can be reused for sending to an address.
struct ConnectionKey: Hashable, Sendable {
    var transport: SIPTransportKind
    var address: SocketAddress
}

final class SIPTransportState: Sendable {
    let logger: Logger
    let maximumMessageSize: Int
    /// The largest UDP datagram looked at: a bigger one is dropped unread (its parse would cost
    /// every other peer its time).
    let maximumDatagramSize: Int
    let limits: ConnectionLimits

    /// Caps on inbound stream connections (see ``SIPTransportOptions``).
    struct ConnectionLimits: Sendable {
        var total: Int
        var perSource: Int
        var firstMessageTimeout: TimeAmount
        static let unlimited = ConnectionLimits(total: .max, perSource: .max, firstMessageTimeout: .hours(24))
    }

    /// An accepted connection: where from, and its first-message deadline until a message comes.
    private struct Inbound {
        var source: String
        var deadline: Scheduled<Void>?
    }
    /// The SIP trace, when the layer has one: sees each message delivered here and each sent.
    let tracer: SIPTracer?
    private let continuation: AsyncStream<SIPTransportEvent>.Continuation
    private let table = NIOLockedValueBox(Table())

    private struct Connection {
        var id: ConnectionID
        var channel: any Channel
        var transport: SIPTransportKind
        var keys: Set<ConnectionKey>
    }

    private struct Table {
        var nextID: UInt64 = 1
        var connections: [ConnectionID: Connection] = [:]
        var idByChannel: [ObjectIdentifier: ConnectionID] = [:]
        var idByKey: [ConnectionKey: ConnectionID] = [:]
        var pendingConnects: [ConnectionKey: EventLoopFuture<any Channel>] = [:]
        var openChannels: [ObjectIdentifier: any Channel] = [:]
        var droppedEvents = 0
        var droppedDatagrams: [SIPDatagramDrop: Int] = [:]
        var inbound: [ObjectIdentifier: Inbound] = [:]
        var inboundBySource: [String: Int] = [:]
        var closedConnections: [SIPConnectionDrop: Int] = [:]
        var closed = false
    }

    init(logger: Logger, maximumMessageSize: Int, maximumDatagramSize: Int = SIPTransportOptions.defaultMaximumDatagramSize,
         limits: ConnectionLimits = .unlimited, continuation: AsyncStream<SIPTransportEvent>.Continuation, tracer: SIPTracer? = nil) {
        self.tracer = tracer
        self.logger = logger
        self.maximumMessageSize = maximumMessageSize
        self.maximumDatagramSize = maximumDatagramSize
        self.limits = limits
        self.continuation = continuation
    }

    // MARK: Events

    func deliver(_ event: SIPTransportEvent) {
        if case .message(let message) = event {
            if let tracer { tracer.capture(.received, message.transport, local: message.local, remote: message.source, bytes: message.bytes) }
            if let id = message.connection { firstMessageArrived(on: id) }
        }
        guard case .dropped = continuation.yield(event) else { return }
        // A consumer that has fallen far behind: say so now and then, not once per message.
        let dropped = table.withLockedValue { table -> Int in
            table.droppedEvents += 1
            return table.droppedEvents
        }
        if dropped == 1 || dropped % 1000 == 0 {
            logger.notice("SIP transport events dropped: consumer too slow", metadata: ["dropped_total": "\(dropped)"])
        }
    }

    func finishEvents() { continuation.finish() }

    /// Counts a datagram dropped before it became an event.
    func countDropped(_ reason: SIPDatagramDrop) {
        table.withLockedValue { $0.droppedDatagrams[reason, default: 0] += 1 }
    }

    /// What was dropped so far: datagrams by reason, and events the consumer had no room for.
    var dropped: (datagrams: [SIPDatagramDrop: Int], events: Int) {
        table.withLockedValue { ($0.droppedDatagrams, $0.droppedEvents) }
    }

    /// Shows an outbound message to the trace: `remote` for UDP, the channel's peer otherwise.
    func traceSent(_ bytes: ByteBuffer, _ transport: SIPTransportKind, on channel: any Channel, to remote: SocketAddress?) {
        guard let tracer else { return }
        tracer.capture(.sent, transport, local: channel.localAddress, remote: remote ?? channel.remoteAddress, bytes: bytes)
    }

    // MARK: Channels

    /// Records a stream channel Tandem dialled so shutdown closes it (no limits: they are for
    /// peers); closes it at once if shutdown has already begun.
    func track(_ channel: any Channel) {
        let accepted = table.withLockedValue { table -> Bool in
            guard !table.closed else { return false }
            table.openChannels[ObjectIdentifier(channel)] = channel
            return true
        }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            table.withLockedValue { _ = $0.openChannels.removeValue(forKey: ObjectIdentifier(channel)) }
        }
    }

    /// Takes an accepted connection, or closes it when the layer is closed or a limit is reached
    /// (total, or from its address); returns whether it was taken. A taken one is closed if it
    /// delivers no SIP message within the first-message timeout.
    func admit(_ channel: any Channel) -> Bool {
        let source = channel.remoteAddress?.ipAddress ?? "?"
        let key = ObjectIdentifier(channel)
        enum Admission { case taken, layerClosed, refused(SIPConnectionDrop) }
        let admission = table.withLockedValue { table -> Admission in
            guard !table.closed else { return .layerClosed }
            if table.inbound.count >= limits.total { return .refused(.connectionLimit) }
            if table.inboundBySource[source, default: 0] >= limits.perSource { return .refused(.sourceLimit) }
            table.openChannels[key] = channel
            table.inbound[key] = Inbound(source: source)
            table.inboundBySource[source, default: 0] += 1
            return .taken
        }
        switch admission {
        case .taken: break
        case .layerClosed:
            channel.close(promise: nil)
            return false
        case .refused(let reason):
            noteClosed(reason, source: source)
            channel.close(promise: nil)
            return false
        }
        let deadline = channel.eventLoop.scheduleTask(in: limits.firstMessageTimeout) { [self] in
            noteClosed(.noFirstMessage, source: source)
            channel.close(promise: nil)
        }
        table.withLockedValue { $0.inbound[key]?.deadline = deadline }
        channel.closeFuture.whenComplete { [self] _ in
            table.withLockedValue { table in
                table.openChannels.removeValue(forKey: key)
                guard let inbound = table.inbound.removeValue(forKey: key) else { return }
                inbound.deadline?.cancel()
                table.inboundBySource[inbound.source, default: 1] -= 1
                if table.inboundBySource[inbound.source] == 0 { table.inboundBySource.removeValue(forKey: inbound.source) }
            }
        }
        return true
    }

    /// A message came on connection `id`: its first-message deadline, if any, is off.
    private func firstMessageArrived(on id: ConnectionID) {
        let deadline = table.withLockedValue { table -> Scheduled<Void>? in
            guard let channel = table.connections[id]?.channel else { return nil }
            defer { table.inbound[ObjectIdentifier(channel)]?.deadline = nil }
            return table.inbound[ObjectIdentifier(channel)]?.deadline
        }
        deadline?.cancel()
    }

    /// Counts a connection Tandem closed, and says so now and then (the first, then every 1000th
    /// of each reason), not once per connection of a flood.
    private func noteClosed(_ reason: SIPConnectionDrop, source: String) {
        let count = table.withLockedValue { table -> Int in
            table.closedConnections[reason, default: 0] += 1
            return table.closedConnections[reason]!
        }
        if count == 1 || count % 1000 == 0 {
            logger.notice("SIP connection closed", metadata: ["reason": "\(reason.rawValue)", "source": "\(source)", "closed_total": "\(count)"])
        }
    }

    var connectionFigures: (closed: [SIPConnectionDrop: Int], open: Int) {
        table.withLockedValue { ($0.closedConnections, $0.inbound.count) }
    }

    /// Marks the layer closed and returns every stream channel still open.
    func closeAll() -> [any Channel] {
        table.withLockedValue { table in
            table.closed = true
            let channels = Array(table.openChannels.values)
            for future in table.pendingConnects.values {
                future.whenSuccess { $0.close(promise: nil) }
            }
            return channels
        }
    }

    // MARK: Connections

    /// Gives a connection its id, or returns the id it already has, and makes it reusable for
    /// sending to each of `addresses`.
    @discardableResult
    func register(_ channel: any Channel, transport: SIPTransportKind, addresses: [SocketAddress]) -> ConnectionID {
        table.withLockedValue { table in
            let keys = addresses.map { ConnectionKey(transport: transport, address: $0) }
            let id: ConnectionID
            if let existing = table.idByChannel[ObjectIdentifier(channel)] {
                id = existing
                table.connections[id]?.keys.formUnion(keys)
            } else {
                id = ConnectionID(rawValue: table.nextID)
                table.nextID += 1
                table.idByChannel[ObjectIdentifier(channel)] = id
                table.connections[id] = Connection(id: id, channel: channel, transport: transport, keys: Set(keys))
            }
            for key in keys { table.idByKey[key] = id }
            return id
        }
    }

    /// Forgets a connection; returns its id and transport if it had been registered.
    func unregister(_ channel: any Channel) -> (ConnectionID, SIPTransportKind)? {
        table.withLockedValue { table in
            guard let id = table.idByChannel.removeValue(forKey: ObjectIdentifier(channel)),
                  let connection = table.connections.removeValue(forKey: id) else { return nil }
            for key in connection.keys where table.idByKey[key] == id { table.idByKey.removeValue(forKey: key) }
            return (id, connection.transport)
        }
    }

    func connection(_ id: ConnectionID) -> (any Channel, SIPTransportKind)? {
        table.withLockedValue { table in table.connections[id].map { ($0.channel, $0.transport) } }
    }

    enum Route {
        case open(any Channel)
        case pending(EventLoopFuture<any Channel>)
        case connect(EventLoopPromise<any Channel>)
        case closed
    }

    /// An open connection to reuse, a connect already under way, or a promise for the caller to
    /// fulfil by connecting (registered as pending so that concurrent sends share it).
    func route(to key: ConnectionKey, eventLoop: any EventLoop) -> Route {
        table.withLockedValue { table in
            guard !table.closed else { return .closed }
            if let id = table.idByKey[key], let connection = table.connections[id], connection.channel.isActive {
                return .open(connection.channel)
            }
            if let pending = table.pendingConnects[key] { return .pending(pending) }
            let promise = eventLoop.makePromise(of: (any Channel).self)
            table.pendingConnects[key] = promise.futureResult
            return .connect(promise)
        }
    }

    func connectFinished(_ key: ConnectionKey) {
        table.withLockedValue { _ = $0.pendingConnects.removeValue(forKey: key) }
    }
}
