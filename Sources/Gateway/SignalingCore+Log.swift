// What the signaling core tells operators: one log line when a call starts, is answered or is
// refused, for every refused authentication and every refused source (at notice, with the
// address, for fail2ban), and a record of every call attempt, refused ones included, for the
// CDR file, `tandemctl calls --recent` and `tandem_calls_total`. The messages and field names
// are a documented format (docs/operations.md).

import NIOCore
import SIP

extension SignalingCore {
    /// Where the message being handled came from: `source` (the IP address), `port`, `transport`.
    var sourceFields: [String: String] {
        guard let current else { return [:] }
        return ["source": current.sourceHost, "port": String(current.sourcePort), "transport": current.transport.rawValue]
    }

    var sourceText: String {
        guard let current else { return "" }
        return current.sourceHost.contains(":") ? "[\(current.sourceHost)]:\(current.sourcePort)" : "\(current.sourceHost):\(current.sourcePort)"
    }

    /// Credentials given and refused: a wrong password, an unknown user, malformed or misdirected
    /// digest credentials, a replayed nonce count, a locked source or user; and, when that
    /// failure locked its source or user, a line saying which and for how long.
    func authenticationRefused(_ request: SIPRequest, _ failure: AuthenticationFailure) -> [SignalingEffect<Destination>] {
        var fields = sourceFields
        fields["user"] = failure.username.isEmpty ? "-" : failure.username
        fields["reason"] = failure.reason.rawValue
        fields["method"] = request.method.rawValue
        fields["sip_call_id"] = (try? request.headers.callID()) ?? "-"
        var effects: [SignalingEffect<Destination>] = [.log(OperatorLog(.notice, "authentication refused", fields))]
        if let lockout = failure.lockout {
            let lock = lockout.lock
            var locked = sourceFields
            locked["locked"] = lockout.locked.rawValue
            locked["user"] = fields["user"]
            locked["seconds"] = String(lock.duration.components.seconds)
            locked["lockouts"] = String(lock.count)
            effects.append(.log(OperatorLog(.notice, "authentication lockout", locked)))
        }
        return effects
    }

    /// A request from an address no trunk allows.
    func sourceRefused(_ request: SIPRequest) -> SignalingEffect<Destination> {
        var fields = sourceFields
        fields["method"] = request.method.rawValue
        fields["callee"] = request.uri.user ?? "-"
        fields["sip_call_id"] = (try? request.headers.callID()) ?? "-"
        return .log(OperatorLog(.notice, "source refused", fields))
    }

    /// A call attempt refused before it became a call: counted and recorded like any ended call
    /// (its CDR carries the status), and logged at info (security refusals are logged at notice
    /// by the caller as well).
    mutating func recordRefusal(_ request: SIPRequest, status: Int, reason: String, side: CallSide, trunk: String?,
                                caller: String?, now: NIODeadline) -> SignalingEffect<Destination> {
        var record = CallRecord(
            id: Self.newTag() + "@" + (routing?.node ?? "tandem"), from: side,
            caller: caller ?? (try? request.headers.from().uri.user) ?? "anonymous",
            callee: request.uri.user ?? "", trunk: trunk, state: "ended", startedAt: now, answeredAt: nil, endedAt: now,
            endedBy: "tandem", endReason: "\(status) \(reason)")
        record.sipCallID = (try? request.headers.callID()) ?? ""
        record.source = sourceText
        record.status = status
        record.refused = true
        self.record(ended: record)
        var fields = sourceFields
        fields["call"] = record.id
        fields["caller"] = record.caller
        fields["callee"] = record.callee
        fields["status"] = String(status)
        fields["reason"] = reason
        fields["sip_call_id"] = record.sipCallID
        if let trunk { fields["trunk"] = trunk }
        return .log(OperatorLog(.info, "call refused", fields))
    }

    /// An ended call or refused attempt: counted by result and trunk, and queued for the driver.
    mutating func record(ended: CallRecord) {
        counters.calls[CallResultKey(result: ended.result, trunk: ended.trunk ?? ""), default: 0] += 1
        endedCalls.append(ended)
        if endedCalls.count > 10_000 { endedCalls.removeFirst(endedCalls.count - 10_000) }  // nobody is taking them
    }

    func callStarted(_ call: B2BCall<Destination>, destination: SIPURI) -> SignalingEffect<Destination> {
        var fields = sourceFields
        fields["call"] = call.id
        fields["caller"] = call.caller
        fields["callee"] = call.callee
        fields["direction"] = "\(call.a.side)-to-\(call.b.side)"
        fields["destination"] = destination.description
        fields["sip_call_id"] = (try? call.a.invite.headers.callID()) ?? ""
        if let trunk = call.trunk { fields["trunk"] = trunk }
        if let route = call.route { fields["route"] = route }
        return .log(OperatorLog(.info, "call started", fields))
    }

    func callAnswered(_ call: B2BCall<Destination>, now: NIODeadline) -> SignalingEffect<Destination> {
        var fields = ["call": call.id, "caller": call.caller, "callee": call.callee,
                      "ring_seconds": String((Double((now - call.startedAt).nanoseconds) / 1e6).rounded() / 1000)]
        if let trunk = call.trunk { fields["trunk"] = trunk }
        return .log(OperatorLog(.info, "call answered", fields))
    }
}
