// The state of one call through the B2BUA: the incoming leg (A, where Tandem is the UAS) and the
// outgoing leg (B, where Tandem is the UAC), each with its transaction, destination and dialog.

import NIOCore
import SIP

struct IncomingLeg<Destination: Hashable & Sendable>: Sendable {
    var side: CallSide
    var invite: SIPRequest
    var transaction: TransactionID
    var replyTo: Destination
    var reliable: Bool
    /// Tandem's To tag on this leg, fixed for every response.
    var localTag: String
    var endpoint: LocalEndpoint
    var dialog: Dialog?
}

struct OutgoingLeg<Destination: Hashable & Sendable>: Sendable {
    var side: CallSide
    var invite: SIPRequest
    var transaction: TransactionID
    var destination: Destination
    var reliable: Bool
    var endpoint: LocalEndpoint
    var dialog: Dialog?
    var provisionalSeen = false
    var authenticated = false
    /// The RSeq of the last reliable provisional response acknowledged with PRACK (RFC 3262).
    var lastRSeq: UInt32?
}

struct B2BCall<Destination: Hashable & Sendable>: Sendable {
    enum State: Sendable, Equatable {
        /// B's INVITE is out; no final response yet.
        case proceeding
        /// A's CANCEL arrived; B is being cancelled.
        case cancelling
        case confirmed
        case ended
    }

    var id: String
    /// The trunk on either leg, for its call limit and credentials.
    var trunk: String?
    var a: IncomingLeg<Destination>
    var b: OutgoingLeg<Destination>
    var state: State = .proceeding
    /// The answer sent to A (from a 183 or the 200), reused if B repeats its SDP.
    var answerForA: [UInt8]?
    /// A CANCEL waits for B's first provisional response (§9.1).
    var cancelPending = false
    /// The session interval agreed with the caller (RFC 4028), and when the session expires
    /// without a refresh.
    var sessionInterval: Int?
    var sessionDeadline: NIODeadline?
    /// Who called whom, and when, for call listings and CDRs.
    var caller = ""
    var callee = ""
    var startedAt = NIODeadline.now()
    var answeredAt: NIODeadline?
    /// The caller's address, and the dial-plan rule that chose the trunk.
    var source = ""
    var route: String?
}

/// A call as operators see it: in `tandemctl calls`, and once ended, in its CDR.
public struct CallRecord: Sendable, Equatable {
    public var id: String
    /// The caller's side (`web` for browser calls to trunks).
    public var from: CallSide
    public var caller: String
    public var callee: String
    public var trunk: String?
    /// `ringing`, `answered`, `cancelling` or `ended`.
    public var state: String
    public var startedAt: NIODeadline
    public var answeredAt: NIODeadline?
    public var endedAt: NIODeadline?
    /// `web`, `trunk`, `media`, `tandem` or `operator`.
    public var endedBy: String?
    /// Why: "BYE", "486 Busy Here", "ICE consent expired", ...
    public var endReason: String?
    /// The ``MediaFailureCause/label`` of a call ended by a media failure (`endedBy` "media").
    public var endCause: String?
    /// The caller's own Call-ID (what its SIP trace shows), and where it called from.
    public var sipCallID = ""
    public var source = ""
    /// The dial-plan rule that chose the trunk, for browser calls.
    public var route: String?
    /// The final status the caller got: 200 when answered, 487 when cancelled, the refusal's or
    /// failure's code otherwise. Nil while the call is in progress.
    public var status: Int?
    /// True for an attempt refused before it became a call (404, 403, 503 while draining...).
    public var refused = false

    /// `answered`, `cancelled`, or the final status as text: `tandem_calls_total`'s result label
    /// and the CDR's.
    public var result: String {
        if answeredAt != nil { return "answered" }
        if status == 487 || endReason == "cancelled" { return "cancelled" }
        return status.map(String.init) ?? "failed"
    }
}

/// An in-dialog request (re-INVITE, UPDATE, INFO) relayed from one leg to the other.
struct Relay: Sendable {
    var call: String
    /// The original request's server transaction, which gets the relayed response.
    var origin: TransactionID
    var request: SIPRequest
    /// The side the request came from.
    var from: CallSide
    /// The relayed request, for the ACK of a 2xx to a re-INVITE.
    var relayed: SIPRequest
}
