// The SIP trace: every SIP message the transport layer receives or sends, on every transport,
// with its direction, addresses and Call-ID, written to the log and/or exported as HEP3 over UDP
// to a capture server (Homer, sngrep). The tracer is the one owner of the trace's settings (on
// or off, the filter, the outputs) and counters.
//
// Cost: with the trace off, the transport layer pays one atomic load per message.
// With it on, the transport layer stamps the time and queues the bytes (a ByteBuffer reference,
// no copy); one consumer task does the filtering, the log line, the HEP encoding and the send,
// away from the event loops that carry calls. The queue is bounded and HEP sends are never
// waited for: a full queue, an unwritable socket or a failed send drops the entry and counts it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HEP
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SIP
import Synchronization

/// One message as the trace saw it.
public struct SIPTraceRecord: Sendable {
    public enum Direction: String, Sendable { case received, sent }

    public var direction: Direction
    public var transport: SIPTransportKind
    /// Tandem's end (the listener's address for UDP, which may be a wildcard).
    public var local: SocketAddress?
    /// The peer's end.
    public var remote: SocketAddress?
    public var bytes: ByteBuffer
    /// Wall-clock time of capture.
    public var seconds: Int
    public var microseconds: Int

    public init(direction: Direction, transport: SIPTransportKind, local: SocketAddress?, remote: SocketAddress?,
                bytes: ByteBuffer, seconds: Int, microseconds: Int) {
        self.direction = direction
        self.transport = transport
        self.local = local
        self.remote = remote
        self.bytes = bytes
        self.seconds = seconds
        self.microseconds = microseconds
    }

    public var source: SocketAddress? { direction == .received ? remote : local }
    public var destination: SocketAddress? { direction == .received ? local : remote }
}

public final class SIPTracer: Sendable {
    /// Where HEP goes.
    public struct HEPTarget: Sendable, Equatable {
        public var address: String
        public var port: Int
        public var captureID: UInt32
        public var password: String?

        public init(address: String, port: Int, captureID: UInt32, password: String? = nil) {
            self.address = address
            self.port = port
            self.captureID = captureID
            self.password = password
        }
    }

    public struct Settings: Sendable, Equatable {
        public var enabled: Bool
        public var filter: SIPTraceFilter
        /// One log entry per message (with its full text).
        public var log: Bool
        public var hep: HEPTarget?

        public init(enabled: Bool = false, filter: SIPTraceFilter = SIPTraceFilter(), log: Bool = true, hep: HEPTarget? = nil) {
            self.enabled = enabled
            self.filter = filter
            self.log = log
            self.hep = hep
        }
    }

    public struct Counters: Sendable, Equatable {
        /// Messages that passed the filter.
        public var traced = 0
        public var hepSent = 0
        /// HEP packets not sent: encoding refused, socket unwritable or send failed.
        public var hepDropped = 0
        /// Messages lost because the trace queue was full.
        public var queueDropped = 0
    }

    /// How many captured messages may wait for the consumer.
    public static let queueLimit = 4096

    /// Whether messages are captured: the one check the transport layer pays when off.
    private let capturing = Atomic<Bool>(false)
    private let continuation: AsyncStream<SIPTraceRecord>.Continuation
    private let shared = NIOLockedValueBox<(settings: Settings, counters: Counters)>((Settings(), Counters()))
    private let consumer = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let logger: Logger

    public init(group: any EventLoopGroup, logger: Logger) {
        let (stream, continuation) = AsyncStream.makeStream(of: SIPTraceRecord.self, bufferingPolicy: .bufferingOldest(Self.queueLimit))
        self.continuation = continuation
        self.logger = logger
        let task = Task.detached { [shared, logger] in
            await Self.consume(stream, shared: shared, group: group, logger: logger)
        }
        consumer.withLockedValue { $0 = task }
    }

    public var settings: Settings { shared.withLockedValue { $0.settings } }
    public var counters: Counters { shared.withLockedValue { $0.counters } }

    /// Replaces the settings; takes effect for the next message captured.
    public func apply(_ settings: Settings) {
        shared.withLockedValue { $0.settings = settings }
        capturing.store(settings.enabled, ordering: .releasing)
    }

    /// Called by the transport layer for each message; does nothing more than one check when off.
    func capture(_ direction: SIPTraceRecord.Direction, _ transport: SIPTransportKind, local: SocketAddress?, remote: SocketAddress?,
                 bytes: ByteBuffer) {
        guard capturing.load(ordering: .acquiring) else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let record = SIPTraceRecord(direction: direction, transport: transport, local: local, remote: remote, bytes: bytes,
                                    seconds: Int(now.tv_sec), microseconds: Int(now.tv_nsec / 1000))
        if case .dropped = continuation.yield(record) {
            shared.withLockedValue { $0.counters.queueDropped += 1 }
        }
    }

    /// Stops the consumer after the queued messages and closes the HEP socket.
    public func close() async {
        capturing.store(false, ordering: .releasing)
        continuation.finish()
        await consumer.withLockedValue { $0 }?.value
    }

    // MARK: The consumer

    private static func consume(
        _ stream: AsyncStream<SIPTraceRecord>, shared: NIOLockedValueBox<(settings: Settings, counters: Counters)>,
        group: any EventLoopGroup, logger: Logger
    ) async {
        var sockets: [Int32: any Channel] = [:]  // by address family
        var resolved: (target: HEPTarget, address: SocketAddress)?
        var reported: String?
        for await record in stream {
            let settings = shared.withLockedValue { $0.settings }
            guard settings.enabled else { continue }
            let summary = SIPTraceSummary(scanning: record.bytes)
            guard settings.filter.matches(summary) else { continue }
            shared.withLockedValue { $0.counters.traced += 1 }
            if settings.log { log(record, summary, logger: logger) }
            guard let target = settings.hep else { continue }

            if resolved?.target != target {
                resolved = (try? SocketAddress(ipAddress: target.address, port: target.port)).map { (target: target, address: $0) }
            }
            var channel: (any Channel)?
            if let address = resolved?.address {
                let family = address.protocol.rawValue
                if let open = sockets[family] {
                    channel = open
                } else {
                    do {
                        let bound = try await DatagramBootstrap(group: group)
                            .bind(host: address.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
                        sockets[family] = bound
                        channel = bound
                    } catch {
                        if reported != "\(error)" {
                            logger.warning("SIP trace: cannot open the HEP socket; HEP packets are dropped", metadata: ["error": "\(error)"])
                            reported = "\(error)"
                        }
                    }
                }
            }
            guard let channel, let address = resolved?.address, channel.isWritable,
                  let packet = hepPacket(record, summary: summary, target: target),
                  let datagram = try? HEPEncoder.encode(packet)
            else {
                shared.withLockedValue { $0.counters.hepDropped += 1 }
                continue
            }
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: datagram)).whenComplete { result in
                shared.withLockedValue {
                    if case .success = result { $0.counters.hepSent += 1 } else { $0.counters.hepDropped += 1 }
                }
            }
        }
        for channel in sockets.values { try? await channel.close() }
    }

    private static func log(_ record: SIPTraceRecord, _ summary: SIPTraceSummary, logger: Logger) {
        let local = record.local.map(Self.text) ?? "?"
        let remote = record.remote.map(Self.text) ?? "?"
        let arrow = record.direction == .received ? "<-" : "->"
        var metadata: Logger.Metadata = [
            "direction": "\(record.direction.rawValue)", "transport": "\(record.transport)", "local": "\(local)", "remote": "\(remote)",
        ]
        if let callID = summary.callID { metadata["call"] = "\(callID)" }
        // One line per message, so that journald keeps it as one entry: line ends written as \r\n.
        var escaped: [UInt8] = []
        escaped.reserveCapacity(record.bytes.readableBytes + 64)
        for byte in record.bytes.readableBytesView {
            switch byte {
            case 13: escaped += [92, 114]  // \r
            case 10: escaped += [92, 110]  // \n
            default: escaped.append(byte)
            }
        }
        let text = String(decoding: escaped, as: UTF8.self)
        logger.notice("SIP trace: \(record.direction.rawValue) \(summary.firstLine) \(record.transport) \(local) \(arrow) \(remote) | \(text)",
                      metadata: metadata)
    }

    static func text(_ address: SocketAddress) -> String {
        let ip = address.ipAddress ?? "?"
        let port = address.port.map(String.init) ?? "?"
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// The HEP description of a record; nil when its addresses are unknown or of two families.
    static func hepPacket(_ record: SIPTraceRecord, summary: SIPTraceSummary, target: HEPTarget) -> HEPPacket? {
        guard let source = record.source, let destination = record.destination,
              let sourcePort = source.port, let destinationPort = destination.port else { return nil }
        let addresses: HEPPacket.Addresses
        switch (source, destination) {
        case (.v4(let s), .v4(let d)):
            addresses = .ipv4(source: withUnsafeBytes(of: s.address.sin_addr) { Array($0) },
                              destination: withUnsafeBytes(of: d.address.sin_addr) { Array($0) })
        case (.v6(let s), .v6(let d)):
            addresses = .ipv6(source: withUnsafeBytes(of: s.address.sin6_addr) { Array($0) },
                              destination: withUnsafeBytes(of: d.address.sin6_addr) { Array($0) })
        default:
            return nil
        }
        return HEPPacket(
            addresses: addresses, ipProtocol: record.transport == .udp ? .udp : .tcp,
            sourcePort: UInt16(truncatingIfNeeded: sourcePort), destinationPort: UInt16(truncatingIfNeeded: destinationPort),
            seconds: UInt32(truncatingIfNeeded: record.seconds), microseconds: UInt32(truncatingIfNeeded: record.microseconds),
            captureID: target.captureID, authenticationKey: target.password, correlationID: summary.callID, payload: record.bytes)
    }
}
