// The human output of `tandemctl calls --recent`: the last ended calls, newest first, with how
// each ended (answered and hung up, cancelled, or refused with a SIP status) and why.

import Foundation

extension CallFormatter {
    public static func recent(_ calls: [RecentCall]) -> String {
        guard !calls.isEmpty else { return "no ended calls yet" }
        let clock = DateFormatter()
        clock.dateFormat = "MM-dd HH:mm:ss"
        clock.locale = Locale(identifier: "en_US_POSIX")
        let rows = calls.map { call -> [String] in
            let id = call.id.split(separator: "@").first.map(String.init) ?? call.id
            return [id, clock.string(from: call.startedAt), StatusFormatter.duration(call.durationSeconds), call.caller, call.callee,
                    call.trunk ?? "-", call.result, call.endedBy, call.endReason.isEmpty ? "-" : call.endReason]
        }
        return table(["CALL", "START", "DURATION", "FROM", "TO", "TRUNK", "RESULT", "BY", "REASON"], rows,
                     widths: [16, 14, 8, 9, 11, 8, 9, 8, nil])
    }
}
