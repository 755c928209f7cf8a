// Slowing down, then locking out, password guessing against digest authentication (RFC 7616
// §5.6 on online dictionary attacks; RFC 3261 §26.3.2.4 on denial of service). Sans-IO: the
// caller records failures per key (an IP address, a username), waits the returned delay before
// answering, and refuses a locked key without checking its credentials; time is passed in.
//
// A success resets nothing: one good login (of another user from the same address, say) must not
// buy a guesser a fresh allowance. Failures age out after a quiet window instead. A key that
// reaches ``Policy/lockoutFailures`` inside the window is locked for ``Policy/lockoutDuration``,
// doubled for each lockout before it in the same window, up to ``Policy/maximumLockout``; the
// failures it counted start again from zero when the lock ends. A lock is a state, not a delay,
// so parallel connections gain nothing.
//
// Memory is bounded: entries are forgotten once their window passes, and when the table is full
// the source whose last failure is oldest is evicted. Both are amortised O(1) through a queue of
// (source, sequence) records in failure order, with stale records skipped lazily.

import NIOCore

/// Tracks authentication failures per source and says how long to delay the next answer.
public struct AuthenticationFailureLimiter: Sendable {
    /// When delays start, how they grow, and how much is remembered.
    public struct Policy: Sendable, Hashable {
        /// Failures inside the window that cost nothing.
        public var freeFailures: Int
        /// The delay after the first failure beyond the free ones; it doubles with each further one.
        public var initialDelay: Duration
        /// The ceiling on the delay.
        public var maximumDelay: Duration
        /// A source's failures are forgotten once this long passes without a new one.
        public var window: Duration
        /// The most sources tracked at once.
        public var capacity: Int
        /// Failures inside the window that lock the key.
        public var lockoutFailures: Int
        /// The first lock's length; each further one in the window doubles it.
        public var lockoutDuration: Duration
        /// The ceiling on a lock's length.
        public var maximumLockout: Duration

        /// Free for 3 failures, then 250 ms doubling to 8 s; locked at 10 for a minute, doubling
        /// to an hour; forgotten after 5 quiet minutes; at most 10 000 sources.
        public init(
            freeFailures: Int = 3, initialDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(8),
            window: Duration = .seconds(300), capacity: Int = 10_000, lockoutFailures: Int = 10,
            lockoutDuration: Duration = .seconds(60), maximumLockout: Duration = .seconds(3600)
        ) {
            precondition(capacity > 0, "the limiter needs room for at least one source")
            precondition(lockoutFailures > 0, "a lockout needs at least one failure")
            self.freeFailures = freeFailures
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
            self.window = window
            self.capacity = capacity
            self.lockoutFailures = lockoutFailures
            self.lockoutDuration = lockoutDuration
            self.maximumLockout = maximumLockout
        }
    }

    /// A lock that a failure started: for the security log.
    public struct Lockout: Sendable, Hashable {
        public var key: String
        public var until: NIODeadline
        public var duration: Duration
        /// How many locks this key has had in the window, this one included.
        public var count: Int

        public init(key: String, until: NIODeadline, duration: Duration, count: Int) {
            self.key = key
            self.until = until
            self.duration = duration
            self.count = count
        }
    }

    private struct Entry: Sendable {
        var failures: Int
        var lastFailure: NIODeadline
        var sequence: UInt64
        var lockedUntil: NIODeadline?
        var lockouts = 0
    }

    public let policy: Policy
    private var entries: [String: Entry] = [:]
    /// Sources in order of their last failure; a record is current only if its sequence matches the entry's.
    private var order = CircularBuffer<(source: String, sequence: UInt64)>()
    private var nextSequence: UInt64 = 0

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// How many sources are remembered.
    public var trackedSourceCount: Int { entries.count }

    /// Notes a failed authentication from `source` at `now`; returns the lock it starts, if it
    /// is the one that reaches ``Policy/lockoutFailures``. A locked key's failures are not
    /// counted (the caller refuses it without checking).
    @discardableResult
    public mutating func recordFailure(source: String, now: NIODeadline) -> Lockout? {
        forgetExpired(now: now)
        if lockedUntil(source, now: now) != nil { return nil }
        var entry = entries[source] ?? Entry(failures: 0, lastFailure: now, sequence: 0)
        if isExpired(entry, now: now) { entry = Entry(failures: 0, lastFailure: now, sequence: 0) }
        if let until = entry.lockedUntil, until <= now {
            // The lock is over: its failures are spent, its count stays for the next one's length.
            entry.lockedUntil = nil
            entry.failures = 0
        }
        if entries[source] == nil, entries.count >= policy.capacity { evictOldest() }
        entry.failures = entry.failures == Int.max ? Int.max : entry.failures + 1
        entry.lastFailure = now
        entry.sequence = nextSequence
        nextSequence &+= 1
        var lockout: Lockout?
        if entry.failures >= policy.lockoutFailures {
            entry.lockouts += 1
            var duration = policy.lockoutDuration
            for _ in 1..<entry.lockouts where duration < policy.maximumLockout { duration *= 2 }
            duration = min(duration, policy.maximumLockout)
            let until = now + TimeAmount(duration)
            entry.lockedUntil = until
            lockout = Lockout(key: source, until: until, duration: duration, count: entry.lockouts)
        }
        entries[source] = entry
        order.append((source, entry.sequence))
        if order.count > 2 * policy.capacity + 16 { compact() }
        return lockout
    }

    /// When `key`'s lock ends, if it is locked at `now`.
    public func lockedUntil(_ key: String, now: NIODeadline) -> NIODeadline? {
        guard let until = entries[key]?.lockedUntil, until > now else { return nil }
        return until
    }

    /// How long to wait before answering `source`: zero for the first ``Policy/freeFailures``
    /// failures inside the window, then ``Policy/initialDelay`` doubling up to ``Policy/maximumDelay``.
    public func delay(for source: String, now: NIODeadline) -> Duration {
        guard let entry = entries[source], !isExpired(entry, now: now) else { return .zero }
        let excess = entry.failures - policy.freeFailures
        guard excess > 0 else { return .zero }
        var delay = policy.initialDelay
        for _ in 1..<excess {
            delay *= 2
            if delay >= policy.maximumDelay || delay <= .zero { break }
        }
        return min(delay, policy.maximumDelay)
    }

    /// Quiet for the window since its last failure or the end of its lock, whichever is later
    /// (so that a long lock's count is still there to double when the next one comes).
    private func isExpired(_ entry: Entry, now: NIODeadline) -> Bool {
        now - max(entry.lastFailure, entry.lockedUntil ?? entry.lastFailure) > TimeAmount(policy.window)
    }

    /// Drops sources whose last failure is older than the window, oldest first.
    private mutating func forgetExpired(now: NIODeadline) {
        while let front = order.first {
            guard let entry = entries[front.source], entry.sequence == front.sequence else {
                order.removeFirst()
                continue
            }
            guard isExpired(entry, now: now) else { return }
            entries[front.source] = nil
            order.removeFirst()
        }
    }

    /// Drops the source whose last failure is oldest.
    private mutating func evictOldest() {
        while let front = order.popFirst() {
            if let entry = entries[front.source], entry.sequence == front.sequence {
                entries[front.source] = nil
                return
            }
        }
    }

    /// Rebuilds the queue from current records only.
    private mutating func compact() {
        var kept = CircularBuffer<(source: String, sequence: UInt64)>(initialCapacity: entries.count)
        for record in order where entries[record.source]?.sequence == record.sequence { kept.append(record) }
        order = kept
    }
}
