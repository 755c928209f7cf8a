// One timer on a media loop that follows a moving deadline: a leg core's next report or
// timeout, the bridge's next made-up DTMF packet. A timer already due earlier is kept: those
// deadlines move with nearly every packet, and replacing a scheduled timer per packet would cost
// more than the packet; an early firing finds nothing due and its owner schedules again.

import NIOCore

final class LoopTimer {  // confined to `eventLoop`
    private let eventLoop: MediaLoop
    private var scheduled: UInt64?
    private var deadline: NIODeadline?
    /// What runs when the timer fires; set once by the owner.
    var onFire: () -> Void = {}

    init(on eventLoop: MediaLoop) { self.eventLoop = eventLoop }

    /// Whether a firing is scheduled.
    var isSet: Bool { scheduled != nil }

    /// Makes sure the timer fires at `deadline` or before; nil cancels it.
    func schedule(at deadline: NIODeadline?) {
        guard let deadline else { return cancel() }
        if scheduled != nil, let current = self.deadline, current <= deadline { return }
        if let scheduled { eventLoop.cancelTimer(scheduled) }
        self.deadline = deadline
        scheduled = eventLoop.schedule(at: deadline) { [weak self] in
            guard let self else { return }
            self.scheduled = nil
            self.deadline = nil
            self.onFire()
        }
    }

    func cancel() {
        if let scheduled { eventLoop.cancelTimer(scheduled) }
        scheduled = nil
        deadline = nil
    }
}

/// The earlier of two optional deadlines (asked on every packet: no array, no allocation).
@inline(__always)
func earliest(_ a: NIODeadline?, _ b: NIODeadline?) -> NIODeadline? {
    guard let a else { return b }
    guard let b else { return a }
    return min(a, b)
}
