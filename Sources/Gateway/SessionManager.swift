// The one interface between signaling and media: every SDP of a call passes through it. The
// signaling core hands it the offer that arrived on one side and sends what it returns to the
// other side; likewise for the answer. The media legs (ICE/DTLS-SRTP toward browsers, plain RTP
// toward trunks, the bridge between them) implement it.

/// Which side of the gateway a leg is on.
public enum CallSide: String, Sendable, Hashable {
    /// A browser, over SIP over WebSocket.
    case web
    /// A SIP trunk or PBX.
    case trunk
}

/// What the session manager made of an offer or answer.
public enum SessionResult: Sendable, Equatable {
    /// The SDP to send on the other side.
    case sdp([UInt8])
    /// The SDP cannot be accepted: the call gets 488 with this text in a Warning header.
    case rejected(warning: String)
    /// No media resources now (ports exhausted, workers over their load): the call gets 503.
    case unavailable(String)
}

public protocol SessionManager: Sendable {
    /// An offer received on `side`: a new call's (with the trunk on its SIP side, when known) or
    /// a re-INVITE's. Returns the offer for the other side.
    func offer(_ sdp: [UInt8], call: String, from side: CallSide, trunk: String?) -> SessionResult
    /// The answer received on `side` to the offer sent there; returns the answer for the caller.
    func answer(_ sdp: [UInt8], call: String, from side: CallSide) -> SessionResult
    /// The call has ended: free its media.
    func release(call: String)
    /// A DTMF digit the browser sent by SIP INFO; true when the media carries it to the trunk
    /// (as RFC 4733 events), false when the INFO should be relayed as it is.
    func dtmf(call: String, digit: Character, durationMilliseconds: Int) -> Bool
}

extension SessionManager {
    public func dtmf(call: String, digit: Character, durationMilliseconds: Int) -> Bool { false }
}

/// The session manager of a node without media legs: every call is refused with 488 and a
/// Warning that says why, rather than being connected to media that does not exist.
public struct NoMediaSessionManager: SessionManager {
    public init() {}
    public func offer(_ sdp: [UInt8], call: String, from side: CallSide, trunk: String?) -> SessionResult {
        .rejected(warning: "media legs are not available on this node yet")
    }
    public func answer(_ sdp: [UInt8], call: String, from side: CallSide) -> SessionResult {
        .rejected(warning: "media legs are not available on this node yet")
    }
    public func release(call: String) {}
}
