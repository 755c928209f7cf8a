// Re-packetizing between packet durations (ptime): 20 ms Opus frames toward a browser, and the
// trunk's ptime (10, 20, 30 or 40 ms) toward the SIP side. Audio samples (PCM or G.711 bytes) go in
// as they arrive and come out in frames of the target length. A fixed ring buffer sized at
// creation: no allocation per packet.

public struct Repacketizer<Sample: FixedWidthInteger>: Sendable where Sample: Sendable {
    private var ring: [Sample]
    private var start = 0
    public private(set) var count = 0
    /// Samples per outgoing frame.
    public let frameLength: Int

    /// - Parameters:
    ///   - frameLength: samples per outgoing frame (e.g. 240 for 30 ms at 8 kHz).
    ///   - capacity: samples held at most; older ones are dropped on overflow (a stalled reader
    ///     must not make the buffer grow).
    public init(frameLength: Int, capacity: Int? = nil) {
        precondition(frameLength > 0, "frame length must be positive")
        self.frameLength = frameLength
        ring = [Sample](repeating: 0, count: max(capacity ?? frameLength * 4, frameLength * 2))
    }

    /// Whether a whole outgoing frame is ready.
    public var hasFrame: Bool { count >= frameLength }

    /// Appends incoming samples; returns how many old samples were dropped to make room.
    @discardableResult
    public mutating func push(_ samples: UnsafeBufferPointer<Sample>) -> Int {
        var dropped = 0
        for sample in samples {
            if count == ring.count {
                start = (start + 1) % ring.count
                count -= 1
                dropped += 1
            }
            ring[(start + count) % ring.count] = sample
            count += 1
        }
        return dropped
    }

    /// Takes one outgoing frame into `frame` (which must hold `frameLength` samples); false when
    /// not enough samples are buffered.
    public mutating func pop(into frame: UnsafeMutableBufferPointer<Sample>) -> Bool {
        guard count >= frameLength, frame.count >= frameLength else { return false }
        for index in 0..<frameLength { frame[index] = ring[(start + index) % ring.count] }
        start = (start + frameLength) % ring.count
        count -= frameLength
        return true
    }
}
