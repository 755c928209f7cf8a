// The transaction layer (RFC 3261 §17): matches incoming messages to client and server
// transactions (§17.1.3, §17.2.3), creates server transactions for new requests, absorbs
// retransmissions, and runs every transaction's timers. Sans-IO: the caller passes messages in
// with their source and the current time, carries out the returned events, and calls
// `timeout(now:)` at `nextDeadline`. Generic over the transport's notion of a destination.

import NIOCore

/// Identifies a transaction: its branch, its method (ACK folds into INVITE), and for server
/// transactions the sent-by of the top Via (§17.2.3).
public struct TransactionID: Hashable, Sendable, CustomStringConvertible {
    public var branch: String
    public var method: SIPMethod
    public var sentBy: String
    public var isServer: Bool

    public var description: String { "\(isServer ? "server" : "client")/\(method)/\(branch)" }
}

/// What the transaction layer asks its owner to do or tells its user.
public enum TransactionEvent<Destination: Hashable & Sendable>: Sendable {
    /// Transmit this message.
    case send(SIPMessage, to: Destination)
    /// A new request for the transaction user; answer it with `respond(to:with:now:)`.
    case request(SIPRequest, transaction: TransactionID, source: Destination)
    /// A CANCEL (already a server transaction of its own, to answer like any request) and the
    /// INVITE server transaction it cancels, if that still exists.
    case cancel(SIPRequest, transaction: TransactionID, source: Destination, invite: TransactionID?)
    /// An ACK that belongs to no server transaction: the ACK for a 2xx (a dialog matches it).
    case ack(SIPRequest, source: Destination)
    /// A response for a client transaction.
    case response(SIPResponse, transaction: TransactionID)
    /// A response that matches no client transaction (a 2xx retransmitted after the INVITE
    /// transaction ended: the dialog re-sends its ACK).
    case strayResponse(SIPResponse, source: Destination)
    /// A client transaction got no final response in time.
    case timedOut(TransactionID)
    /// A server INVITE transaction's final response was never acknowledged.
    case ackNotReceived(TransactionID)
    case terminated(TransactionID)
}

public struct TransactionLayer<Destination: Hashable & Sendable>: Sendable {
    private enum Transaction: Sendable {
        case clientInvite(ClientInviteTransaction)
        case clientNonInvite(ClientNonInviteTransaction)
        case serverInvite(ServerInviteTransaction)
        case serverNonInvite(ServerNonInviteTransaction)

        var nextDeadline: NIODeadline? {
            switch self {
            case .clientInvite(let t): return t.nextDeadline
            case .clientNonInvite(let t): return t.nextDeadline
            case .serverInvite(let t): return t.nextDeadline
            case .serverNonInvite(let t): return t.nextDeadline
            }
        }
    }

    private struct Entry: Sendable {
        var transaction: Transaction
        var peer: Destination
    }

    private var transactions: [TransactionID: Entry] = [:]
    public let timers: SIPTimerValues

    public init(timers: SIPTimerValues = .standard) {
        self.timers = timers
    }

    /// Transactions alive now.
    public var count: Int { transactions.count }

    /// When `timeout(now:)` must next be called.
    public var nextDeadline: NIODeadline? { transactions.values.compactMap(\.transaction.nextDeadline).min() }

    /// A new branch parameter: the RFC 3261 magic cookie and 64 random bits.
    public static func newBranch() -> String {
        SIPVia.magicCookie + String(UInt64.random(in: .min ... .max), radix: 36)
    }

    // MARK: Incoming

    /// Handles a message that arrived from `source`. `reliable` is true for stream transports.
    public mutating func receive(_ message: SIPMessage, from source: Destination, reliable: Bool, now: NIODeadline) -> [TransactionEvent<Destination>] {
        switch message {
        case .request(let request): return receive(request, from: source, reliable: reliable, now: now)
        case .response(let response): return receive(response, from: source, now: now)
        }
    }

    private mutating func receive(_ request: SIPRequest, from source: Destination, reliable: Bool, now: NIODeadline) -> [TransactionEvent<Destination>] {
        guard let id = TransactionLayer.serverID(for: request) else { return [] }
        if request.method == .ack {
            guard var entry = transactions[id], case .serverInvite(var invite) = entry.transaction, invite.state == .completed || invite.state == .confirmed else {
                return [.ack(request, source: source)]
            }
            let outputs = invite.receiveACK(now: now)
            entry.transaction = .serverInvite(invite)
            return apply(outputs, id: id, entry: entry)
        }
        if let entry = transactions[id] {
            // A retransmission: answer with the last response.
            switch entry.transaction {
            case .serverInvite(var t):
                let outputs = t.receiveRetransmission()
                return apply(outputs, id: id, entry: Entry(transaction: .serverInvite(t), peer: entry.peer))
            case .serverNonInvite(var t):
                let outputs = t.receiveRetransmission()
                return apply(outputs, id: id, entry: Entry(transaction: .serverNonInvite(t), peer: entry.peer))
            default:
                return []
            }
        }
        if request.method == .invite {
            let transaction = ServerInviteTransaction(request: request, reliable: reliable, timers: timers, now: now)
            let entry = Entry(transaction: .serverInvite(transaction), peer: source)
            return apply(transaction.initialOutputs, id: id, entry: entry) + [.request(request, transaction: id, source: source)]
        }
        let transaction = ServerNonInviteTransaction(request: request, reliable: reliable, timers: timers, now: now)
        transactions[id] = Entry(transaction: .serverNonInvite(transaction), peer: source)
        if request.method == .cancel {
            var inviteID = id
            inviteID.method = .invite
            let invite = transactions[inviteID].map { _ in inviteID }
            return [.cancel(request, transaction: id, source: source, invite: invite)]
        }
        return [.request(request, transaction: id, source: source)]
    }

    private mutating func receive(_ response: SIPResponse, from source: Destination, now: NIODeadline) -> [TransactionEvent<Destination>] {
        guard let via = try? response.headers.topVia(), let branch = via.branch, let cseq = try? response.headers.cseq() else {
            return []
        }
        let id = TransactionID(branch: branch, method: cseq.method == .ack ? .invite : cseq.method, sentBy: "", isServer: false)
        guard var entry = transactions[id] else { return [.strayResponse(response, source: source)] }
        let outputs: [TransactionOutput]
        switch entry.transaction {
        case .clientInvite(var t):
            outputs = t.receive(response, now: now)
            entry.transaction = .clientInvite(t)
        case .clientNonInvite(var t):
            outputs = t.receive(response, now: now)
            entry.transaction = .clientNonInvite(t)
        default:
            return []
        }
        return apply(outputs, id: id, entry: entry)
    }

    // MARK: Outgoing

    /// Starts a client transaction for `request` (which must carry a top Via with a fresh branch
    /// and a CSeq) toward `destination`. ACK requests need no transaction: use `sendStateless`.
    public mutating func send(_ request: SIPRequest, to destination: Destination, reliable: Bool, now: NIODeadline) throws(SIPParseError) -> (TransactionID, [TransactionEvent<Destination>]) {
        let via = try request.headers.topVia()
        guard let branch = via.branch else { throw SIPParseError(.headerValue, "the top Via has no branch") }
        let id = TransactionID(branch: branch, method: request.method, sentBy: "", isServer: false)
        if request.method == .invite {
            let transaction = ClientInviteTransaction(request: request, reliable: reliable, timers: timers, now: now)
            return (id, apply(transaction.initialOutputs, id: id, entry: Entry(transaction: .clientInvite(transaction), peer: destination)))
        }
        let transaction = ClientNonInviteTransaction(request: request, reliable: reliable, timers: timers, now: now)
        return (id, apply(transaction.initialOutputs, id: id, entry: Entry(transaction: .clientNonInvite(transaction), peer: destination)))
    }

    /// A message outside any transaction (the ACK for a 2xx, a stateless response).
    public func sendStateless(_ message: SIPMessage, to destination: Destination) -> [TransactionEvent<Destination>] {
        [.send(message, to: destination)]
    }

    /// The transaction user's response to a server transaction.
    public mutating func respond(to id: TransactionID, with response: SIPResponse, now: NIODeadline) -> [TransactionEvent<Destination>] {
        guard var entry = transactions[id] else { return [] }
        let outputs: [TransactionOutput]
        switch entry.transaction {
        case .serverInvite(var t):
            outputs = t.respond(response, now: now)
            entry.transaction = .serverInvite(t)
        case .serverNonInvite(var t):
            outputs = t.respond(response, now: now)
            entry.transaction = .serverNonInvite(t)
        default:
            return []
        }
        return apply(outputs, id: id, entry: entry)
    }

    /// The dialog matched the ACK of a 2xx sent by this INVITE server transaction.
    public mutating func acknowledge2xx(_ id: TransactionID) {
        guard var entry = transactions[id], case .serverInvite(var t) = entry.transaction else { return }
        t.acknowledge2xx()
        entry.transaction = .serverInvite(t)
        transactions[id] = entry
    }

    /// The request a server transaction was created for.
    public func request(of id: TransactionID) -> SIPRequest? {
        switch transactions[id]?.transaction {
        case .serverInvite(let t): return t.request
        case .serverNonInvite(let t): return t.request
        case .clientInvite(let t): return t.request
        case .clientNonInvite(let t): return t.request
        case nil: return nil
        }
    }

    // MARK: Time

    /// Fires every timer that is due.
    public mutating func timeout(now: NIODeadline) -> [TransactionEvent<Destination>] {
        var events: [TransactionEvent<Destination>] = []
        for (id, entry) in transactions {
            guard let deadline = entry.transaction.nextDeadline, deadline <= now else { continue }
            var entry = entry
            let outputs: [TransactionOutput]
            switch entry.transaction {
            case .clientInvite(var t):
                outputs = t.timeout(now: now)
                entry.transaction = .clientInvite(t)
            case .clientNonInvite(var t):
                outputs = t.timeout(now: now)
                entry.transaction = .clientNonInvite(t)
            case .serverInvite(var t):
                outputs = t.timeout(now: now)
                entry.transaction = .serverInvite(t)
            case .serverNonInvite(var t):
                outputs = t.timeout(now: now)
                entry.transaction = .serverNonInvite(t)
            }
            events += apply(outputs, id: id, entry: entry)
        }
        return events
    }

    // MARK: Helpers

    /// Stores the updated transaction (or forgets it when terminated) and turns its outputs into
    /// events.
    private mutating func apply(_ outputs: [TransactionOutput], id: TransactionID, entry: Entry) -> [TransactionEvent<Destination>] {
        var events: [TransactionEvent<Destination>] = []
        var terminated = false
        for output in outputs {
            switch output {
            case .transmit(let message): events.append(.send(message, to: entry.peer))
            case .deliver(let response): events.append(.response(response, transaction: id))
            case .timedOut: events.append(.timedOut(id))
            case .ackNotReceived: events.append(.ackNotReceived(id))
            case .terminated:
                terminated = true
                events.append(.terminated(id))
            }
        }
        transactions[id] = terminated ? nil : entry
        return events
    }

    /// §17.2.3: branch, sent-by and method (ACK matches INVITE). For RFC 2543 peers without the
    /// magic cookie, the whole top Via, Call-ID, CSeq number and From tag stand in for the branch.
    static func serverID(for request: SIPRequest) -> TransactionID? {
        guard let via = try? request.headers.topVia() else { return nil }
        let method = request.method == .ack ? SIPMethod.invite : request.method
        let sentBy = "\(via.host.lowercased()):\(via.port ?? 0)"
        if let branch = via.branch, branch.hasPrefix(SIPVia.magicCookie) {
            return TransactionID(branch: branch, method: method, sentBy: sentBy, isServer: true)
        }
        let callID = (try? request.headers.callID()) ?? ""
        let cseq = (try? request.headers.cseq().number).map(String.init) ?? ""
        let fromTag = (try? request.headers.from().tag) ?? ""
        return TransactionID(branch: "2543:\(via.description)|\(callID)|\(cseq)|\(fromTag ?? "")", method: method, sentBy: sentBy, isServer: true)
    }
}
