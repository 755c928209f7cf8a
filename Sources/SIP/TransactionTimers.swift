// RFC 3261 §17 timer values (Table 4 in §A): T1 (RTT estimate), T2 (largest non-INVITE
// retransmit interval), T4 (how long the network keeps a message), and what a transaction tells
// its owner it wants to do.

import NIOCore

/// The base timer values every transaction derives its timers from.
public struct SIPTimerValues: Sendable, Equatable {
    public var t1: TimeAmount
    public var t2: TimeAmount
    public var t4: TimeAmount

    public init(t1: TimeAmount = .milliseconds(500), t2: TimeAmount = .seconds(4), t4: TimeAmount = .seconds(5)) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
    }

    /// RFC 3261's defaults: T1 500 ms, T2 4 s, T4 5 s.
    public static let standard = SIPTimerValues()

    /// 64*T1: how long a transaction waits before giving up (Timers B, F, H, J, L, M).
    public var transactionTimeout: TimeAmount { .nanoseconds(t1.nanoseconds * 64) }
}

/// What a transaction asks its owner to do.
public enum TransactionOutput: Sendable, Equatable {
    /// Send this message to the transaction's peer (first transmission, retransmission, ACK).
    case transmit(SIPMessage)
    /// Pass this response up to the transaction user (client transactions).
    case deliver(SIPResponse)
    /// No final response arrived in time (Timer B or F): the TU acts as if it got a 408.
    case timedOut
    /// A final response was sent but never acknowledged (Timer H, or no ACK for a 2xx within
    /// 64*T1): the TU should end the dialog.
    case ackNotReceived
    /// The transaction is over and can be forgotten.
    case terminated
}
