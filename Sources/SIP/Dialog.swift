// Dialogs (RFC 3261 §12): the state two user agents share after an INVITE is answered (or, early,
// after a provisional response with a To tag): Call-ID, local and remote tags and URIs, the remote
// target (Contact), the route set (Record-Route), and CSeq counters. It builds requests inside the
// dialog (§12.2.1.1) and checks incoming ones (§12.2.2), and updates the target on refresh.

/// Identifies a dialog from one side: Call-ID, local tag, remote tag.
public struct DialogID: Hashable, Sendable, CustomStringConvertible {
    public var callID: String
    public var localTag: String
    public var remoteTag: String

    public init(callID: String, localTag: String, remoteTag: String) {
        self.callID = callID
        self.localTag = localTag
        self.remoteTag = remoteTag
    }

    /// The dialog an incoming request belongs to, seen from the receiver (To tag is ours).
    public init?(incoming request: SIPRequest) {
        guard let callID = try? request.headers.callID(), let toTag = try? request.headers.to().tag,
            let fromTag = try? request.headers.from().tag
        else { return nil }
        self.init(callID: callID, localTag: toTag, remoteTag: fromTag)
    }

    /// The dialog a response belongs to, seen from the request's sender (From tag is ours).
    public init?(response: SIPResponse) {
        guard let callID = try? response.headers.callID(), let fromTag = try? response.headers.from().tag,
            let toTag = try? response.headers.to().tag
        else { return nil }
        self.init(callID: callID, localTag: fromTag, remoteTag: toTag)
    }

    public var description: String { "\(callID);local=\(localTag);remote=\(remoteTag)" }
}

public struct Dialog: Sendable, Equatable {
    public enum State: Sendable, Equatable { case early, confirmed, terminated }

    public var id: DialogID
    public var state: State
    public var localURI: SIPNameAddress
    public var remoteURI: SIPNameAddress
    /// Where requests inside the dialog go (the peer's Contact).
    public var remoteTarget: SIPURI
    /// Record-Route values, in the order requests use them as Route headers.
    public var routeSet: [String]
    public var localSequence: UInt32
    public var remoteSequence: UInt32?
    public var secure: Bool

    /// The dialog a UAS creates when it answers `request` with `response` (§12.1.1): the route
    /// set is the request's Record-Route in order, the remote target its Contact.
    public init(uas request: SIPRequest, response: SIPResponse) throws(SIPParseError) {
        let callID = try request.headers.callID()
        let from = try request.headers.from()
        let to = try response.headers.to()
        guard let localTag = to.tag else { throw SIPParseError(.headerValue, "the response has no To tag") }
        id = DialogID(callID: callID, localTag: localTag, remoteTag: from.tag ?? "")
        state = response.isSuccess ? .confirmed : .early
        localURI = to
        remoteURI = from
        guard let contact = try request.headers.list("Contact").first else { throw SIPParseError(.headerValue, "the request has no Contact") }
        remoteTarget = try SIPNameAddress(parsing: contact).uri
        routeSet = try request.headers.list("Record-Route")
        localSequence = UInt32.random(in: 1...10_000)
        remoteSequence = try request.headers.cseq().number
        secure = request.uri.scheme == "sips"
    }

    /// The dialog a UAC creates from its `request` and a response with a To tag (§12.1.2): the
    /// route set is the response's Record-Route in reverse order.
    public init(uac request: SIPRequest, response: SIPResponse) throws(SIPParseError) {
        let callID = try request.headers.callID()
        let from = try request.headers.from()
        let to = try response.headers.to()
        guard let remoteTag = to.tag else { throw SIPParseError(.headerValue, "the response has no To tag") }
        id = DialogID(callID: callID, localTag: from.tag ?? "", remoteTag: remoteTag)
        state = response.isSuccess ? .confirmed : .early
        localURI = from
        remoteURI = to
        if let contact = try response.headers.list("Contact").first {
            remoteTarget = try SIPNameAddress(parsing: contact).uri
        } else {
            remoteTarget = request.uri
        }
        routeSet = try response.headers.list("Record-Route").reversed()
        localSequence = try request.headers.cseq().number
        remoteSequence = nil
        secure = request.uri.scheme == "sips"
    }

    /// A request inside the dialog (§12.2.1.1). `via` is the new top Via (with a fresh branch);
    /// ACK and CANCEL reuse `sequence`, other methods take the next local CSeq.
    public mutating func makeRequest(_ method: SIPMethod, via: SIPVia, contact: String?, sequence: UInt32? = nil) -> SIPRequest {
        let number: UInt32
        if let sequence {
            number = sequence
        } else {
            localSequence += 1
            number = localSequence
        }
        var headers = SIPHeaders()
        headers.add("Via", via.description)
        headers.add("Max-Forwards", "70")
        headers.add("From", localURI.description)
        headers.add("To", remoteURI.description)
        headers.add("Call-ID", id.callID)
        headers.add("CSeq", SIPCSeq(number: number, method: method).description)
        // Loose routing (§12.2.1.1): Request-URI is the remote target, Route is the route set.
        // A strict first route (no ;lr) would swap them; every peer Tandem meets is loose.
        for route in routeSet { headers.add("Route", route) }
        if let contact, method != .ack, method != .cancel { headers.add("Contact", contact) }
        return SIPRequest(method: method, uri: remoteTarget, headers: headers)
    }

    /// Checks an incoming request's CSeq (§12.2.2): lower than the last one is out of order (500);
    /// a target refresh (re-INVITE, UPDATE) updates the remote target from its Contact.
    public mutating func receive(_ request: SIPRequest) -> Bool {
        guard let cseq = try? request.headers.cseq() else { return false }
        if request.method != .ack && request.method != .cancel {
            if let last = remoteSequence, cseq.number <= last { return false }
            remoteSequence = cseq.number
        }
        if request.method == .invite || request.method == .update,
            let contact = try? request.headers.list("Contact").first, let target = try? SIPNameAddress(parsing: contact) {
            remoteTarget = target.uri
        }
        return true
    }

    /// A 2xx to an INVITE confirms an early dialog and refreshes the target (§12.1.2, §12.2.1.2).
    public mutating func confirm(with response: SIPResponse) {
        state = .confirmed
        if let contact = try? response.headers.list("Contact").first, let target = try? SIPNameAddress(parsing: contact) {
            remoteTarget = target.uri
        }
    }
}
