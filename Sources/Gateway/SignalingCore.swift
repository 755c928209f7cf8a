// The SIP user-agent core shared by every call and registration (RFC 3261 §8.2, §18.2): parses
// what the transport delivers, answers malformed or unacceptable requests (400, 416, 420, 483,
// 505), records the source in the top Via (§18.2.1 `received`, RFC 3581 `rport`), runs the
// transaction layer, and dispatches requests by method: OPTIONS is answered here, REGISTER goes
// to the registrar. Sans-IO: bytes and time in, bytes to send out.

import NIOCore
import SIP
import TandemConfig

/// A message as the transport delivered it.
public struct InboundSIP<Destination: Hashable & Sendable>: Sendable {
    public var bytes: [UInt8]
    /// Where responses go: the connection for streams, the source address for UDP.
    public var replyTo: Destination
    /// The source IP address (for `received` and access checks).
    public var sourceHost: String
    public var sourcePort: Int
    public var transport: SIPTransportKind
    /// The stream connection it came on, if any (registrations over WebSocket are tied to it).
    public var connection: UInt64?

    public init(bytes: [UInt8], replyTo: Destination, sourceHost: String, sourcePort: Int, transport: SIPTransportKind, connection: UInt64?) {
        self.bytes = bytes
        self.replyTo = replyTo
        self.sourceHost = sourceHost
        self.sourcePort = sourcePort
        self.transport = transport
        self.connection = connection
    }
}

/// What the core asks its driver to do.
public enum SignalingEffect<Destination: Hashable & Sendable>: Sendable, Equatable {
    /// Transmit these bytes.
    case send([UInt8], to: Destination)
    /// Something a developer may want in the log (debug level), with the call it is about (the
    /// log line's `call` metadata).
    case note(String, call: String? = nil)
    /// A line for the operator's log: calls started, answered and refused, refused
    /// authentication and sources, trunk state changes.
    case log(OperatorLog)
}

/// A line for the operator's log, its fields carried as logger metadata. The message and the
/// field names are a stable format (docs/operations.md): fail2ban filters and log pipelines
/// read them.
public struct OperatorLog: Sendable, Equatable {
    public enum Level: String, Sendable { case info, notice, warning }
    public var level: Level
    public var message: String
    public var fields: [String: String]

    public init(_ level: Level, _ message: String, _ fields: [String: String]) {
        self.level = level
        self.message = message
        self.fields = fields
    }
}

/// Counters of what the core refused, for status and metrics.
public struct SignalingCounters: Sendable, Equatable {
    public var unparseable = 0
    public var badRequests = 0
    public var requests = 0
    public var responses = 0
    /// Requests received by method; responses received and sent by status code.
    public var requestsByMethod: [String: Int] = [:]
    public var responsesByCode: [Int: Int] = [:]
    public var responsesSentByCode: [Int: Int] = [:]
    /// Call attempts ended, refused ones included, by result and trunk.
    public var calls: [CallResultKey: Int] = [:]
}

/// What `tandem_calls_total` is labelled by: `answered`, `cancelled`, or the final status the
/// caller got; and the trunk on either leg ("" when none).
public struct CallResultKey: Sendable, Hashable {
    public var result: String
    public var trunk: String

    public init(result: String, trunk: String) {
        self.result = result
        self.trunk = trunk
    }
}

public struct SignalingCore<Destination: Hashable & Sendable>: Sendable {
    /// Option tags Tandem implements, accepted in Require (RFC 3261 §8.2.2.3): session timers
    /// (RFC 4028). Reliable provisional responses (100rel) and Replaces are not implemented yet,
    /// so a peer that requires them gets 420 and can fall back.
    public static var supportedExtensions: [String] { ["timer"] }

    var transactions: TransactionLayer<Destination>
    var userAgent: String
    var registrar: Registrar
    /// Responses held back (failed authentication from a source that keeps failing).
    var delayed: [(deadline: NIODeadline, transaction: TransactionID, response: SIPResponse)] = []
    /// The message being handled, for the dispatch that follows it.
    var current: InboundSIP<Destination>?
    public internal(set) var counters = SignalingCounters()

    // Calls (SignalingCore+Calls.swift).
    var routing: CallRouting<Destination>?
    var sessions: any SessionManager
    var calls: [String: B2BCall<Destination>] = [:]
    /// Calls ended since the driver last took them (for CDRs).
    var endedCalls: [CallRecord] = []
    var callByServerTransaction: [TransactionID: String] = [:]
    /// The final status sent to each call's caller, for its record (SignalingCore+Calls.swift).
    var finalStatusByCall: [String: Int] = [:]
    var callByClientTransaction: [TransactionID: String] = [:]
    var callByDialog: [DialogID: String] = [:]
    /// In-dialog requests relayed to the other leg, by the relayed request's client transaction.
    var relays: [TransactionID: Relay] = [:]
    /// The latest re-INVITE server transaction of each dialog, for its ACK.
    var reinviteByDialog: [DialogID: TransactionID] = [:]
    /// BYEs for browsers whose connection closed mid-call, by the browser's contact (user@host),
    /// sent when it registers again over a new connection (SignalingCore+Calls.swift).
    var byesAwaitingReconnection: [String: (request: SIPRequest, reliable: Bool, until: NIODeadline)] = [:]
    /// False while draining: new calls get 503.
    public var admitting = true

    // Trunk supervision (SignalingCore+Trunks.swift).
    var trunkMonitors: [String: TrunkMonitor] = [:]
    var monitorByTransaction: [TransactionID: String] = [:]
    var pendingMonitorRequests: [TransactionID: SIPRequest] = [:]
    var monitorsSynced = false
    /// Each trunk's call-rate bucket (`max_calls_per_second`): tokens left and when last filled.
    var trunkRates: [String: (tokens: Double, at: NIODeadline)] = [:]

    public init(userAgent: String, web: WebSettings, users: [WebUser], routing: CallRouting<Destination>? = nil,
                sessions: any SessionManager = NoMediaSessionManager(), timers: SIPTimerValues = .standard) {
        self.userAgent = userAgent
        transactions = TransactionLayer(timers: timers)
        registrar = Registrar(web: web, users: users)
        self.routing = routing
        self.sessions = sessions
    }

    /// Applies a reloaded configuration.
    public mutating func reconfigure(userAgent: String, web: WebSettings, users: [WebUser], routing: CallRouting<Destination>? = nil) {
        self.userAgent = userAgent
        registrar.reconfigure(web: web, users: users)
        if let routing {
            self.routing = routing
            monitorsSynced = false
        }
    }

    /// Contacts registered now, over all users.
    public var registrations: Int { registrar.bindings.count }

    /// Every registered contact: user, contact, seconds until it expires.
    public func registrationList(now: NIODeadline) -> [(user: String, contact: String, expiresIn: Double)] {
        registrar.bindings.addressesOfRecord.sorted().flatMap { user in
            registrar.contacts(of: user, now: now).map { (user, $0.contact, Double(($0.expires - now).nanoseconds) / 1e9) }
        }
    }

    public func contacts(of user: String, now: NIODeadline) -> [RegistrationBinding] { registrar.contacts(of: user, now: now) }

    /// A stream connection closed: registrations that arrived on it are gone (RFC 7118 §5.3), and
    /// so are the calls whose browser leg ran over it (SignalingCore+Calls.swift).
    public mutating func connectionClosed(_ connection: UInt64, now: NIODeadline) -> [SignalingEffect<Destination>] {
        registrar.connectionClosed(connection)
        return browserConnectionLost(connection, now: now)
    }

    public var nextDeadline: NIODeadline? {
        [transactions.nextDeadline, delayed.map(\.deadline).min(), trunkMonitorDeadline, sessionDeadline].compactMap { $0 }.min()
    }

    public mutating func timeout(now: NIODeadline) -> [SignalingEffect<Destination>] {
        registrar.expire(now: now)
        var effects: [SignalingEffect<Destination>] = []
        let due = delayed.filter { $0.deadline <= now }
        delayed.removeAll { $0.deadline <= now }
        for item in due { effects += respond(to: item.transaction, with: item.response, now: now) }
        effects += trunkMonitorTimeout(now: now)
        effects += expireSessions(now: now)
        return effects + handle(transactions.timeout(now: now), now: now)
    }

    /// Handles one message from the transport.
    public mutating func receive(_ inbound: InboundSIP<Destination>, now: NIODeadline) -> [SignalingEffect<Destination>] {
        current = inbound
        defer { current = nil }
        let message: SIPMessage
        do {
            message = try SIPParser.parse(inbound.bytes)
        } catch {
            counters.unparseable += 1
            return [.note("dropped an unparseable message from \(inbound.sourceHost):\(inbound.sourcePort): \(error.reason)")]
        }
        switch message {
        case .response(let response):
            counters.responses += 1
            counters.responsesByCode[response.statusCode, default: 0] += 1
            guard (try? response.validate()) != nil else {
                counters.unparseable += 1
                return [.note("dropped a response with bad headers from \(inbound.sourceHost):\(inbound.sourcePort)")]
            }
            return handle(transactions.receive(.response(response), from: inbound.replyTo, reliable: inbound.transport.isStream, now: now), now: now)
        case .request(var request):
            counters.requests += 1
            counters.requestsByMethod[request.method.rawValue, default: 0] += 1
            // A response needs a parseable Via to find its way back; without one, drop.
            guard var via = try? request.headers.topVia() else {
                counters.badRequests += 1
                return [.note("dropped a request without a usable Via from \(inbound.sourceHost):\(inbound.sourcePort)")]
            }
            via.parameters.set("received", inbound.sourceHost)
            if via.parameters.contains("rport") { via.parameters.set("rport", String(inbound.sourcePort)) }
            try? request.headers.removeFirstElement("Via")
            request.headers.prepend("Via", via.description)
            if let rejection = screen(request) {
                counters.badRequests += 1
                if request.method == .ack { return [.note("dropped a bad ACK: \(rejection.reason)")] }
                counters.responsesSentByCode[rejection.statusCode, default: 0] += 1
                return [.send(rejection.serialized(), to: inbound.replyTo)]
            }
            return handle(transactions.receive(.request(request), from: inbound.replyTo, reliable: inbound.transport.isStream, now: now), now: now)
        }
    }

    /// The checks of §8.2 that come before any method-specific processing; a response when the
    /// request cannot be processed.
    func screen(_ request: SIPRequest) -> SIPResponse? {
        if request.version != "SIP/2.0" { return stamp(request.makeResponse(505)) }
        do {
            try request.validate()
        } catch {
            return stamp(request.makeResponse(400, reason: "Bad Request (\(error.reason))"))
        }
        if !(request.uri.isSIP || request.uri.scheme == "tel") { return stamp(request.makeResponse(416)) }
        // §19.1.5: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.12).
        if request.uri.headers != nil { return stamp(request.makeResponse(400, reason: "Bad Request (headers in Request-URI)")) }
        if let hops = try? request.headers.maxForwards(), hops == 0, request.method != .options, request.method != .ack {
            return stamp(request.makeResponse(483))
        }
        // Loop detection (§8.2.2.2 / §16.3 4): a new request that already passed through this node
        // (one of its Via entries is ours) has come back.
        if request.method != .ack, (try? request.headers.to().tag) == nil, let routing,
            let vias = try? request.headers.list("Via").dropFirst().compactMap({ try? SIPVia(parsing: $0) }),
            vias.contains(where: { via in routing.endpoints.values.contains { $0.host == via.host && $0.port == (via.port ?? $0.transport.defaultPort) } }) {
            return stamp(request.makeResponse(482))
        }
        if request.method != .ack && request.method != .cancel, let required = try? request.headers.list("Require") {
            let unsupported = required.filter { !SignalingCore.supportedExtensions.contains($0.lowercased()) }
            if !unsupported.isEmpty {
                var response = request.makeResponse(420)
                response.headers.add("Unsupported", unsupported.joined(separator: ", "))
                return stamp(response)
            }
        }
        return nil
    }

    func stamp(_ response: SIPResponse) -> SIPResponse {
        var response = response
        if response.headers["Server"] == nil { response.headers.add("Server", userAgent) }
        return response
    }

    // MARK: Dispatch

    mutating func handle(_ events: [TransactionEvent<Destination>], now: NIODeadline) -> [SignalingEffect<Destination>] {
        var effects: [SignalingEffect<Destination>] = []
        for event in events {
            switch event {
            case .send(let message, let destination):
                effects.append(.send(message.serialized(), to: destination))
            case .request(let request, let id, _) where request.method == .register:
                let answer = registrar.handle(request, source: current?.sourceHost ?? "", connection: current?.connection, now: now)
                if let failure = answer.failure { effects += authenticationRefused(request, failure) }
                if answer.delay > .zero {
                    delayed.append((now + answer.delay.timeAmount, id, answer.response))
                } else {
                    effects += respond(to: id, with: answer.response, now: now)
                }
                if answer.response.statusCode == 200, let connection = current?.connection {
                    effects += sendByesAwaitingReconnection(registered: answer.response, over: connection, now: now)
                }
            case .request(let request, let id, let source) where request.method == .invite && (try? request.headers.to().tag) == nil:
                effects += startCall(request, transaction: id, source: source, now: now)
            case .request(let request, let id, _) where (try? request.headers.to().tag) != nil:
                effects += inDialog(request, transaction: id, now: now)
            case .request(let request, let id, _):
                effects += respond(to: id, with: answer(request), now: now)
            case .cancel(let request, let id, _, let invite):
                // §9.2: 200 when the INVITE is known (even if already answered), 481 otherwise.
                effects += respond(to: id, with: request.makeResponse(invite != nil ? 200 : 481, toTag: Self.newTag()), now: now)
                if let invite { effects += cancelCall(invite: invite, now: now) }
            case .ack(let request, _):
                acknowledge(request)
            case .response(let response, let id):
                effects += trunkMonitorResponse(response, transaction: id, now: now) ?? relayResponse(response, transaction: id, now: now)
                    ?? callResponse(response, transaction: id, now: now)
            case .strayResponse(let response, _):
                effects += strayResponse(response, now: now)
            case .timedOut(let id):
                effects += trunkMonitorTimedOut(id, now: now) ?? relayTimedOut(id, now: now) ?? callTimedOut(id, now: now)
            case .ackNotReceived(let id):
                effects += callNotAcknowledged(id, now: now)
            case .terminated:
                break
            }
        }
        return effects
    }

    mutating func respond(to id: TransactionID, with response: SIPResponse, now: NIODeadline) -> [SignalingEffect<Destination>] {
        counters.responsesSentByCode[response.statusCode, default: 0] += 1
        if response.statusCode >= 200, let callID = callByServerTransaction[id], calls[callID]?.a.transaction == id {
            finalStatusByCall[callID] = response.statusCode
        }
        return handle(transactions.respond(to: id, with: stamp(response), now: now), now: now)
    }

    /// Answers the requests the core handles itself.
    private func answer(_ request: SIPRequest) -> SIPResponse {
        switch request.method {
        case .options:
            var response = request.makeResponse(200, toTag: Self.newTag())
            response.headers.add("Allow", Self.allowed.map(\.rawValue).joined(separator: ", "))
            response.headers.add("Accept", "application/sdp")
            response.headers.add("Accept-Encoding", "identity")
            if !Self.supportedExtensions.isEmpty { response.headers.add("Supported", Self.supportedExtensions.joined(separator: ", ")) }
            return response
        default:
            var response = request.makeResponse(405, toTag: Self.newTag())
            response.headers.add("Allow", Self.allowed.map(\.rawValue).joined(separator: ", "))
            return response
        }
    }

    /// Methods answered today.
    static var allowed: [SIPMethod] { [.invite, .ack, .bye, .cancel, .options, .register, .update, .info] }

    static func newTag() -> String { String(UInt64.random(in: .min ... .max), radix: 36) }
}

extension Duration {
    /// The same span as NIO's TimeAmount.
    var timeAmount: TimeAmount {
        .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }
}
