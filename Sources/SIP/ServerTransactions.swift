// Server transactions (RFC 3261 §17.2), as state machines like the client ones.
//
//   INVITE (§17.2.1, with RFC 6026's Accepted state):
//     Proceeding --2xx--> Accepted --Timer L--> Terminated   (2xx resent on UDP until the ACK)
//     Proceeding --300-699--> Completed --ACK--> Confirmed --Timer I--> Terminated
//     Completed --Timer H--> Terminated (no ACK). Timer G resends the final response (UDP only).
//     "100 Trying" is sent at once, so the client stops retransmitting (§17.2.1).
//
//   non-INVITE (§17.2.2):
//     Trying --1xx--> Proceeding --200-699--> Completed --Timer J--> Terminated
//     A retransmitted request is answered with the last response sent.

import NIOCore

/// A server INVITE transaction.
public struct ServerInviteTransaction: Sendable {
    public enum State: Sendable, Equatable { case proceeding, accepted, completed, confirmed, terminated }

    public let request: SIPRequest
    public let reliable: Bool
    public private(set) var state: State = .proceeding
    private let timers: SIPTimerValues
    private var lastResponse: SIPResponse
    private var retransmitInterval: TimeAmount
    private var timerG: NIODeadline?
    private var timerH: NIODeadline?
    private var timerI: NIODeadline?
    private var timerL: NIODeadline?
    private var acknowledged = false

    public init(request: SIPRequest, reliable: Bool, timers: SIPTimerValues = .standard, now: NIODeadline) {
        self.request = request
        self.reliable = reliable
        self.timers = timers
        lastResponse = request.makeResponse(100)
        retransmitInterval = timers.t1
    }

    /// The 100 Trying sent as the transaction starts.
    public var initialOutputs: [TransactionOutput] { [.transmit(.response(lastResponse))] }

    public var nextDeadline: NIODeadline? { [timerG, timerH, timerI, timerL].compactMap { $0 }.min() }

    /// The transaction user's response.
    public mutating func respond(_ response: SIPResponse, now: NIODeadline) -> [TransactionOutput] {
        guard state == .proceeding else { return [] }
        lastResponse = response
        if response.isProvisional { return [.transmit(.response(response))] }
        retransmitInterval = timers.t1
        if response.isSuccess {
            state = .accepted
            timerL = now + timers.transactionTimeout
            if !reliable { timerG = now + timers.t1 }
        } else {
            state = .completed
            timerH = now + timers.transactionTimeout
            if !reliable { timerG = now + timers.t1 }
        }
        return [.transmit(.response(response))]
    }

    /// A retransmission of the INVITE: resend the last response.
    public mutating func receiveRetransmission() -> [TransactionOutput] {
        switch state {
        case .proceeding, .completed: return [.transmit(.response(lastResponse))]
        default: return []
        }
    }

    /// The ACK for a non-2xx final response (same branch as the INVITE).
    public mutating func receiveACK(now: NIODeadline) -> [TransactionOutput] {
        guard state == .completed else { return [] }
        state = .confirmed
        timerG = nil
        timerH = nil
        if reliable {
            state = .terminated
            return [.terminated]
        }
        timerI = now + timers.t4
        return []
    }

    /// The ACK for a 2xx arrived (a separate transaction, matched by the dialog): stop resending.
    public mutating func acknowledge2xx() {
        guard state == .accepted else { return }
        acknowledged = true
        timerG = nil
    }

    public mutating func timeout(now: NIODeadline) -> [TransactionOutput] {
        if let h = timerH, h <= now, state == .completed {
            state = .terminated
            clear()
            return [.ackNotReceived, .terminated]
        }
        if let l = timerL, l <= now {
            state = .terminated
            let unacknowledged = !acknowledged
            clear()
            return (unacknowledged ? [.ackNotReceived] : []) + [.terminated]
        }
        if let i = timerI, i <= now {
            state = .terminated
            clear()
            return [.terminated]
        }
        if let g = timerG, g <= now, state == .completed || state == .accepted {
            retransmitInterval = min(retransmitInterval + retransmitInterval, timers.t2)
            timerG = now + retransmitInterval
            return [.transmit(.response(lastResponse))]
        }
        return []
    }

    private mutating func clear() {
        timerG = nil
        timerH = nil
        timerI = nil
        timerL = nil
    }
}

/// A server non-INVITE transaction.
public struct ServerNonInviteTransaction: Sendable {
    public enum State: Sendable, Equatable { case trying, proceeding, completed, terminated }

    public let request: SIPRequest
    public let reliable: Bool
    public private(set) var state: State = .trying
    private let timers: SIPTimerValues
    private var lastResponse: SIPResponse?
    private var timerJ: NIODeadline?

    public init(request: SIPRequest, reliable: Bool, timers: SIPTimerValues = .standard, now: NIODeadline) {
        self.request = request
        self.reliable = reliable
        self.timers = timers
    }

    public var nextDeadline: NIODeadline? { timerJ }

    public mutating func respond(_ response: SIPResponse, now: NIODeadline) -> [TransactionOutput] {
        guard state == .trying || state == .proceeding else { return [] }
        lastResponse = response
        if response.isProvisional {
            state = .proceeding
            return [.transmit(.response(response))]
        }
        if reliable {
            state = .terminated
            return [.transmit(.response(response)), .terminated]
        }
        state = .completed
        timerJ = now + timers.transactionTimeout
        return [.transmit(.response(response))]
    }

    public mutating func receiveRetransmission() -> [TransactionOutput] {
        guard state == .proceeding || state == .completed, let lastResponse else { return [] }
        return [.transmit(.response(lastResponse))]
    }

    public mutating func timeout(now: NIODeadline) -> [TransactionOutput] {
        guard let j = timerJ, j <= now else { return [] }
        state = .terminated
        timerJ = nil
        return [.terminated]
    }
}

extension SIPRequest {
    /// A response to this request as §8.2.6.2 builds it: the same Via headers, From, Call-ID and
    /// CSeq, To with `toTag` added when given (and absent), and no body.
    public func makeResponse(_ statusCode: Int, reason: String? = nil, toTag: String? = nil) -> SIPResponse {
        var headers = SIPHeaders()
        for via in self.headers.values("Via") { headers.add("Via", via) }
        if let from = self.headers["From"] { headers.add("From", from) }
        if var to = self.headers["To"] {
            if let toTag, statusCode != 100, var address = try? SIPNameAddress(parsing: to), address.tag == nil {
                address.tag = toTag
                to = address.description
            }
            headers.add("To", to)
        }
        if let callID = self.headers["Call-ID"] { headers.add("Call-ID", callID) }
        if let cseq = self.headers["CSeq"] { headers.add("CSeq", cseq) }
        if statusCode == 100, let timestamp = self.headers["Timestamp"] { headers.add("Timestamp", timestamp) }
        return SIPResponse(statusCode: statusCode, reason: reason, headers: headers)
    }
}
