// Slowing down password guessing against digest authentication (RFC 7616 §5.6 on online
// dictionary attacks; RFC 3261 §26.3.2.4 on denial of service). Sans-IO: the caller records
// failures and successes per source (an IP address, a username) and waits the returned delay
// before answering; time is passed in.
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

        /// Free for 3 failures, then 250 ms doubling to 8 s; forgotten after 5 quiet minutes;
        /// at most 10 000 sources.
        public init(
            freeFailures: Int = 3, initialDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(8),
            window: Duration = .seconds(300), capacity: Int = 10_000
        ) {
            precondition(capacity > 0, "the limiter needs room for at least one source")
            self.freeFailures = freeFailures
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
            self.window = window
            self.capacity = capacity
        }
    }

    private struct Entry: Sendable {
        var failures: Int
        var lastFailure: NIODeadline
        var sequence: UInt64
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

    /// Notes a failed authentication from `source` at `now`.
    public mutating func recordFailure(source: String, now: NIODeadline) {
        forgetExpired(now: now)
        var entry = entries[source] ?? Entry(failures: 0, lastFailure: now, sequence: 0)
        if entry.failures > 0, isExpired(entry, now: now) { entry.failures = 0 }
        if entries[source] == nil, entries.count >= policy.capacity { evictOldest() }
        entry.failures = entry.failures == Int.max ? Int.max : entry.failures + 1
        entry.lastFailure = now
        entry.sequence = nextSequence
        nextSequence &+= 1
        entries[source] = entry
        order.append((source, entry.sequence))
        if order.count > 2 * policy.capacity + 16 { compact() }
    }

    /// Forgets `source`'s failures after it authenticated.
    public mutating func recordSuccess(source: String) {
        entries[source] = nil
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

    private func isExpired(_ entry: Entry, now: NIODeadline) -> Bool {
        now - entry.lastFailure > TimeAmount(policy.window)
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
