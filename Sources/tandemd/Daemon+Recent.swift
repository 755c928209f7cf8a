// The last ended calls, for `tandemctl calls --recent` (control command `recent_calls`): a
// bounded ring fed where ended calls are recorded, so an operator sees failed and refused calls
// with their causes after they are gone from `tandemctl calls`.

import Control
import Foundation
import Gateway
import NIOCore

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
    /// Called for every ended call where its CDR is written.
    func rememberRecent(_ record: CallRecord, media: MediaCallInfo?) {
        recentCallRing.append(Self.recent(record, media: media, date: { Self.date(of: $0) }))
    }

    func recentCalls(limit: Int) async -> [RecentCall] {
        recentCallRing.newest(limit)
    }

    static func recent(_ record: CallRecord, media: MediaCallInfo?, date: (NIODeadline) -> Date) -> RecentCall {
        let start = date(record.startedAt)
        let end = record.endedAt.map(date) ?? Date()
        let answer = record.answeredAt.map(date)
        let reason = record.endReason ?? ""
        return RecentCall(
            id: record.id, from: record.from.rawValue, caller: record.caller, callee: record.callee, trunk: record.trunk,
            startedAt: start, endedAt: end, durationSeconds: (end.timeIntervalSince(start) * 1000).rounded() / 1000,
            talkSeconds: answer.map { (end.timeIntervalSince($0) * 1000).rounded() / 1000 } ?? 0,
            result: record.result, sipStatus: answer != nil ? nil : record.status, endedBy: record.endedBy ?? "tandem", endReason: reason,
            media: media?.mode)
    }
}
