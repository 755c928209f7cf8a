// The last ended calls, for `tandemctl calls --recent` (control command `recent_calls`): a
// bounded ring fed where ended calls are recorded, so an operator sees failed and refused calls
// with their causes after they are gone from `tandemctl calls`.

import Control
import Foundation

/// The newest `capacity` ended calls. Owned by the daemon actor.
struct RecentCallRing: Sendable {
    let capacity: Int
    private var entries: [RecentCall] = []
    /// Where the next entry goes once the ring is full (the oldest one).
    private var next = 0

    init(capacity: Int = ControlProtocol.recentCallsLimit) {
        self.capacity = max(1, capacity)
        entries.reserveCapacity(self.capacity)
    }

    mutating func append(_ call: RecentCall) {
        if entries.count < capacity {
            entries.append(call)
        } else {
            entries[next] = call
            next = (next + 1) % capacity
        }
    }

    /// The newest `limit` entries, newest first.
    func newest(_ limit: Int) -> [RecentCall] {
        let ordered = entries.count < capacity ? entries : Array(entries[next...] + entries[..<next])
        return Array(ordered.reversed().prefix(max(0, limit)))
    }
}

extension Daemon {
    /// Called for every ended call where its CDR is made; the entry is the CDR's own figures.
    func rememberRecent(_ cdr: CallDetailRecord) {
        recentCallRing.append(Self.recent(cdr))
    }

    func recentCalls(limit: Int) async -> [RecentCall] {
        recentCallRing.newest(limit)
    }

    static func recent(_ cdr: CallDetailRecord) -> RecentCall {
        RecentCall(
            id: cdr.callId, from: cdr.from, caller: cdr.caller, callee: cdr.callee, trunk: cdr.trunk,
            startedAt: cdr.start, endedAt: cdr.end, durationSeconds: cdr.durationSeconds, talkSeconds: cdr.talkSeconds,
            result: cdr.result, sipStatus: cdr.answer != nil ? nil : cdr.sipStatus, endedBy: cdr.endedBy, endReason: cdr.endReason,
            media: cdr.media)
    }
}
