// Client transactions (RFC 3261 §17.1), as state machines that take inputs (a response, the
// current time) and return outputs; the caller owns sockets and timers.
//
//   INVITE (§17.1.1, with RFC 6026's Accepted state):
//     Calling --1xx--> Proceeding --2xx--> Accepted --Timer M--> Terminated
//        |                 |
//        +--300-699 (send ACK)--> Completed --Timer D--> Terminated
//     Calling --Timer B--> Terminated (timed out). Timer A retransmits in Calling (UDP only).
//
//   non-INVITE (§17.1.2):
//     Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
//     Trying/Proceeding --Timer F--> Terminated (timed out). Timer E retransmits (UDP only).

import NIOCore

/// A client INVITE transaction.
public struct ClientInviteTransaction: Sendable {
    public enum State: Sendable, Equatable { case calling, proceeding, accepted, completed, terminated }

    public let request: SIPRequest
    public let reliable: Bool
    public private(set) var state: State = .calling
    private let timers: SIPTimerValues
    private var retransmitInterval: TimeAmount
    private var timerA: NIODeadline?
    private var timerB: NIODeadline?
    private var timerD: NIODeadline?
    private var timerM: NIODeadline?
    private var ack: SIPRequest?

    /// Starts the transaction; the first output transmits the INVITE.
    public init(request: SIPRequest, reliable: Bool, timers: SIPTimerValues = .standard, now: NIODeadline) {
        self.request = request
        self.reliable = reliable
        self.timers = timers
        retransmitInterval = timers.t1
        if !reliable { timerA = now + timers.t1 }
        timerB = now + timers.transactionTimeout
    }

    public var initialOutputs: [TransactionOutput] { [.transmit(.request(request))] }

    public var nextDeadline: NIODeadline? { [timerA, timerB, timerD, timerM].compactMap { $0 }.min() }

    public mutating func receive(_ response: SIPResponse, now: NIODeadline) -> [TransactionOutput] {
        switch (state, response.statusCode) {
        case (.calling, 100..<200), (.proceeding, 100..<200):
            state = .proceeding
            timerA = nil
            timerB = nil
            return [.deliver(response)]
        case (.calling, 200..<300), (.proceeding, 200..<300):
            state = .accepted
            timerA = nil
            timerB = nil
            timerM = now + timers.transactionTimeout
            return [.deliver(response)]
        case (.accepted, 200..<300):
            return [.deliver(response)]  // a retransmitted 2xx: the TU sends its ACK again
        case (.calling, 300...), (.proceeding, 300...):
            state = .completed
            timerA = nil
            timerB = nil
            let ack = ClientInviteTransaction.makeACK(for: request, response: response)
            self.ack = ack
            if reliable {
                state = .terminated
                return [.transmit(.request(ack)), .deliver(response), .terminated]
            }
            timerD = now + .seconds(32)
            return [.transmit(.request(ack)), .deliver(response)]
        case (.completed, 300...):
            return ack.map { [.transmit(.request($0))] } ?? []
        default:
            return []
        }
    }

    public mutating func timeout(now: NIODeadline) -> [TransactionOutput] {
        var outputs: [TransactionOutput] = []
        if let b = timerB, b <= now, state == .calling {
            state = .terminated
            clearTimers()
            return [.timedOut, .terminated]
        }
        if let a = timerA, a <= now, state == .calling {
            outputs.append(.transmit(.request(request)))
            retransmitInterval = retransmitInterval + retransmitInterval
            timerA = now + retransmitInterval
        }
        if let d = timerD, d <= now {
            state = .terminated
            clearTimers()
            outputs.append(.terminated)
        }
        if let m = timerM, m <= now {
            state = .terminated
            clearTimers()
            outputs.append(.terminated)
        }
        return outputs
    }

    private mutating func clearTimers() {
        timerA = nil
        timerB = nil
        timerD = nil
        timerM = nil
    }

    /// The ACK for a non-2xx final response (§17.1.1.3): same Request-URI, Call-ID, From, CSeq
    /// number and top Via as the INVITE, To from the response, Route headers of the INVITE.
    public static func makeACK(for invite: SIPRequest, response: SIPResponse) -> SIPRequest {
        var headers = SIPHeaders()
        if let via = try? invite.headers.list("Via").first { headers.add("Via", via) }
        headers.add("Max-Forwards", "70")
        for name in ["From", "Call-ID"] {
            if let value = invite.headers[name] { headers.add(name, value) }
        }
        if let to = response.headers["To"] { headers.add("To", to) }
        if let cseq = try? invite.headers.cseq() { headers.add("CSeq", SIPCSeq(number: cseq.number, method: .ack).description) }
        for route in invite.headers.values("Route") { headers.add("Route", route) }
        return SIPRequest(method: .ack, uri: invite.uri, headers: headers)
    }
}

/// A client non-INVITE transaction.
public struct ClientNonInviteTransaction: Sendable {
    public enum State: Sendable, Equatable { case trying, proceeding, completed, terminated }

    public let request: SIPRequest
    public let reliable: Bool
    public private(set) var state: State = .trying
    private let timers: SIPTimerValues
    private var retransmitInterval: TimeAmount
    private var timerE: NIODeadline?
    private var timerF: NIODeadline?
    private var timerK: NIODeadline?

    public init(request: SIPRequest, reliable: Bool, timers: SIPTimerValues = .standard, now: NIODeadline) {
        self.request = request
        self.reliable = reliable
        self.timers = timers
        retransmitInterval = timers.t1
        if !reliable { timerE = now + timers.t1 }
        timerF = now + timers.transactionTimeout
    }

    public var initialOutputs: [TransactionOutput] { [.transmit(.request(request))] }

    public var nextDeadline: NIODeadline? { [timerE, timerF, timerK].compactMap { $0 }.min() }

    public mutating func receive(_ response: SIPResponse, now: NIODeadline) -> [TransactionOutput] {
        switch state {
        case .trying, .proceeding:
            if response.isProvisional {
                state = .proceeding
                return [.deliver(response)]
            }
            timerE = nil
            timerF = nil
            if reliable {
                state = .terminated
                return [.deliver(response), .terminated]
            }
            state = .completed
            timerK = now + timers.t4
            return [.deliver(response)]
        case .completed, .terminated:
            return []  // retransmissions of the final response are absorbed
        }
    }

    public mutating func timeout(now: NIODeadline) -> [TransactionOutput] {
        if let f = timerF, f <= now, state == .trying || state == .proceeding {
            state = .terminated
            timerE = nil
            timerF = nil
            return [.timedOut, .terminated]
        }
        var outputs: [TransactionOutput] = []
        if let e = timerE, e <= now {
            outputs.append(.transmit(.request(request)))
            // Trying: double up to T2. Proceeding: every T2 (§17.1.2.2).
            retransmitInterval = state == .proceeding ? timers.t2 : min(retransmitInterval + retransmitInterval, timers.t2)
            timerE = now + retransmitInterval
        }
        if let k = timerK, k <= now {
            state = .terminated
            timerK = nil
            outputs.append(.terminated)
        }
        return outputs
    }
}
