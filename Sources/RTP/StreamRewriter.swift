// Keeps what one leg sends a single continuous RTP stream (RFC 3550 §5.1, §8) while what feeds it
// changes: a new SSRC after a re-INVITE, a new source after a transfer, a codec switch. Each
// incoming packet gets our SSRC, a sequence number that follows on from the last one sent, and a
// timestamp that keeps advancing in step with the source's timestamps. Two integer additions per
// packet; no allocation.

public struct StreamRewriter: Sendable {
    /// The SSRC this leg sends with.
    public let ssrc: UInt32
    private var sourceSSRC: UInt32?
    private var sequenceOffset: UInt16 = 0
    private var timestampOffset: UInt32 = 0
    private var lastSequence: UInt16
    private var lastTimestamp: UInt32
    private var started = false

    public init(ssrc: UInt32, initialSequence: UInt16, initialTimestamp: UInt32) {
        self.ssrc = ssrc
        lastSequence = initialSequence &- 1
        lastTimestamp = initialTimestamp
    }

    /// Makes room for `count` packets of the gateway's own (DTMF events) after the last packet
    /// sent: returns the first of their sequence numbers and the last timestamp sent. The
    /// source's next packets are numbered after them.
    public mutating func insert(count: UInt16) -> (sequence: UInt16, timestamp: UInt32) {
        let first = lastSequence &+ 1
        lastSequence = lastSequence &+ count
        sequenceOffset = sequenceOffset &+ count
        return (first, lastTimestamp)
    }

    /// The sequence number and timestamp to send for a packet from `source` with
    /// `sequence`/`timestamp`. When the source changes, the stream continues from the last packet
    /// sent, `gap` timestamp units later (one packet's duration).
    public mutating func rewrite(source: UInt32, sequence: UInt16, timestamp: UInt32, gap: UInt32) -> (sequence: UInt16, timestamp: UInt32) {
        if source != sourceSSRC || !started {
            sourceSSRC = source
            sequenceOffset = (lastSequence &+ 1) &- sequence
            timestampOffset = (started ? lastTimestamp &+ gap : lastTimestamp) &- timestamp
            started = true
        }
        let outSequence = sequence &+ sequenceOffset
        let outTimestamp = timestamp &+ timestampOffset
        // Reordered packets keep their place; only a newer packet moves the "last sent" mark.
        if Int16(bitPattern: outSequence &- lastSequence) > 0 {
            lastSequence = outSequence
            lastTimestamp = outTimestamp
        }
        return (outSequence, outTimestamp)
    }
}
