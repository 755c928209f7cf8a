// Session timers (RFC 4028) on the incoming leg. When the caller asks for a session interval
// (Session-Expires, with `timer` supported), Tandem accepts it with the caller as refresher
// (§9: `refresher=uac`), answers 422 with Min-SE when it is below 90 s (§6), and ends the call
// on both legs when no refresh (a re-INVITE or UPDATE answered 2xx) arrives in time (§10).
// Tandem never asks the outgoing leg for a session timer, so it never has to refresh one.

import NIOCore
import SIP

extension SignalingCore {
    /// The smallest session interval Tandem accepts (RFC 4028 §4: 90 s).
    static var minimumSessionInterval: Int { 90 }

    /// The session interval the request asks for, when the requester supports session timers.
    /// Throws the Min-SE value to answer 422 with when the interval is too small.
    static func requestedSessionInterval(_ request: SIPRequest) -> (interval: Int?, tooSmall: Bool) {
        guard let value = request.headers["Session-Expires"] else { return (nil, false) }
        let number = SIPGrammarNumber.leading(value)
        guard let interval = number else { return (nil, false) }
        let options = ((try? request.headers.list("Supported")) ?? []) + ((try? request.headers.list("Require")) ?? [])
        guard options.contains(where: { $0.lowercased() == "timer" }) else { return (nil, false) }
        return (interval, interval < minimumSessionInterval)
    }

    /// Adds the session timer headers to a 2xx for the incoming leg (§9).
    static func addSessionTimer(_ interval: Int, to response: inout SIPResponse) {
        response.headers.set("Session-Expires", "\(interval);refresher=uac")
        response.headers.set("Require", "timer")
    }

    /// The earliest session expiry among calls.
    var sessionDeadline: NIODeadline? { calls.values.compactMap(\.sessionDeadline).min() }

    /// Ends calls whose session expired without a refresh.
    mutating func expireSessions(now: NIODeadline) -> [SignalingEffect<Destination>] {
        var effects: [SignalingEffect<Destination>] = []
        for (callID, call) in calls {
            guard let deadline = call.sessionDeadline, deadline <= now else { continue }
            effects += sendBYE(on: .incoming, call: callID, now: now) + sendBYE(on: .outgoing, call: callID, now: now)
                + endCall(callID, by: "tandem", reason: "session expired without a refresh", now: now)
            effects.append(.note("session expired without a refresh (RFC 4028); ended", call: callID))
        }
        return effects
    }
}

enum SIPGrammarNumber {
    /// The decimal number at the start of a header value (`1800;refresher=uac` → 1800).
    static func leading(_ value: String) -> Int? {
        let digits = value.drop { $0 == " " }.prefix { $0.isASCII && $0.isNumber }
        return digits.isEmpty || digits.count > 9 ? nil : Int(digits)
    }
}
