// Replay protection for digest authentication (RFC 7616 §3.3 and §5.11): the nonce count of
// every nonce in use must grow strictly with each request that uses it, so a captured
// Authorization header sent again (same nonce, same nc) is refused. A response without qop has
// no nc, so its nonce is good for one request. Sans-IO: time is passed in.
//
// Memory is bounded. A nonce is forgotten once its lifetime is over (the server calls it stale
// after that anyway). When the table is full, the nonce first seen earliest is dropped and the
// tracker stops trusting any nonce issued at or before it that it has not seen: such a nonce
// might be the dropped one, so it is answered as stale (the client gets a fresh nonce, a replayer
// gets nothing).

import NIOCore

public struct NonceCountTracker: Sendable {
    /// What became of a request's nonce count.
    public enum Verdict: Sendable, Equatable {
        /// Above every count seen for this nonce: recorded.
        case accepted
        /// Not above the highest count seen: a replay.
        case replayed
        /// Older than what the tracker can still vouch for: answer with a fresh nonce.
        case unknown
    }

    public let lifetime: Duration
    public let capacity: Int
    private var highest: [String: UInt32] = [:]
    /// Nonces in the order first seen, with their issue times.
    private var order = CircularBuffer<(nonce: String, issued: NIODeadline)>()
    /// Nonces issued at or before this one and not in the table are not trusted.
    private var watermark: NIODeadline?

    /// - Parameters:
    ///   - lifetime: the nonces' lifetime (``DigestServer/nonceLifetime``).
    ///   - capacity: the most nonces remembered at once.
    public init(lifetime: Duration, capacity: Int = 100_000) {
        precondition(capacity > 0, "the tracker needs room for at least one nonce")
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// How many nonces are remembered.
    public var trackedNonceCount: Int { highest.count }

    /// Checks and records `nc` (nil without qop) for a nonce issued at `issued`.
    public mutating func check(nonce: String, nc: UInt32?, issued: NIODeadline, now: NIODeadline) -> Verdict {
        forgetExpired(now: now)
        // Without qop there is no count: the first use counts as 1, and there is no second.
        let count = nc ?? 1
        guard count > 0 else { return .replayed }
        if let last = highest[nonce] {
            guard count > last else { return .replayed }
            highest[nonce] = count
            return .accepted
        }
        if let watermark, issued <= watermark { return .unknown }
        if highest.count >= capacity, let oldest = order.popFirst() {
            highest[oldest.nonce] = nil
            watermark = max(watermark ?? oldest.issued, oldest.issued)
            if issued <= watermark! { return .unknown }
        }
        highest[nonce] = count
        order.append((nonce, issued))
        return .accepted
    }

    /// Drops nonces past their lifetime, from the front (first seen; issue times are nearly in
    /// that order, and one kept a little long costs only its entry).
    private mutating func forgetExpired(now: NIODeadline) {
        while let front = order.first, now - front.issued > TimeAmount(lifetime) {
            highest[front.nonce] = nil
            order.removeFirst()
        }
    }
}
