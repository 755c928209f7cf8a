// What a receiver knows about one RTP source, for its reception reports: sequence tracking with
// wrap-around and probation (RFC 3550 A.1), loss and fraction lost (A.3), interarrival jitter
// (A.8), and the LSR/DLSR fields from the last sender report (§6.4.1). Sans-IO: arrival times are
// passed in; updating is a few integer operations per packet, no allocation.

import NIOCore

#if canImport(Glibc)
import Glibc
#endif

public struct ReceiveStatistics: Sendable {
    public let clockRate: Int

    private static let maxDropout: UInt16 = 3000
    private static let maxMisorder: UInt16 = 100
    private static let minSequential = 2
    private static let sequenceModulo: UInt32 = 1 << 16

    private var maxSequence: UInt16 = 0
    private var cycles: UInt32 = 0
    private var baseSequence: UInt32 = 0
    private var badSequence: UInt32 = sequenceModulo + 1
    private var probation = minSequential
    private var started = false
    public private(set) var received: UInt32 = 0
    public private(set) var octets: UInt64 = 0
    private var expectedPrior: UInt32 = 0
    private var receivedPrior: UInt32 = 0

    private var lastTransit: Int64?
    /// Jitter in timestamp units, scaled by 16 as in A.8.
    private var jitterScaled: Int64 = 0

    private var lastSRMiddle: UInt32 = 0
    private var lastSRArrival: NIODeadline?

    public init(clockRate: Int) {
        self.clockRate = clockRate
    }

    /// The highest sequence number seen, extended with the wrap count.
    public var extendedHighestSequence: UInt32 { cycles + UInt32(maxSequence) }

    /// Packets expected minus packets received, since the first one.
    public var cumulativeLost: Int64 {
        guard started else { return 0 }
        let expected = Int64(extendedHighestSequence) - Int64(baseSequence) + 1
        return expected - Int64(received)
    }

    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32 { UInt32(clamping: jitterScaled >> 4) }

    /// Records a packet; returns false when it is not counted: the first packets of a source on
    /// probation, or a large jump in sequence numbers until the next packet confirms it (A.1).
    @discardableResult
    public mutating func received(sequence: UInt16, rtpTimestamp: UInt32, arrival: NIODeadline, payloadBytes: Int) -> Bool {
        if !started {
            start(at: sequence)
            maxSequence = sequence &- 1
            probation = Self.minSequential
        }
        updateJitter(rtpTimestamp: rtpTimestamp, arrival: arrival)
        guard updateSequence(sequence) else { return false }
        octets &+= UInt64(payloadBytes)
        return true
    }

    private mutating func start(at sequence: UInt16) {
        started = true
        baseSequence = UInt32(sequence)
        maxSequence = sequence
        badSequence = Self.sequenceModulo + 1
        cycles = 0
        received = 0
        receivedPrior = 0
        expectedPrior = 0
    }

    /// RFC 3550 A.1 `update_seq`.
    private mutating func updateSequence(_ sequence: UInt16) -> Bool {
        let delta = sequence &- maxSequence
        if probation > 0 {
            if sequence == maxSequence &+ 1 {
                probation -= 1
                maxSequence = sequence
                if probation == 0 {
                    start(at: sequence)
                    received &+= 1
                    return true
                }
            } else {
                probation = Self.minSequential - 1
                maxSequence = sequence
            }
            return false
        }
        if delta < Self.maxDropout {
            if sequence < maxSequence { cycles &+= Self.sequenceModulo }  // wrapped around
            maxSequence = sequence
        } else if UInt32(delta) <= Self.sequenceModulo - UInt32(Self.maxMisorder) {
            // A very large jump: the sender restarted if the next packet follows it.
            if UInt32(sequence) == badSequence {
                start(at: sequence)
            } else {
                badSequence = (UInt32(sequence) + 1) & (Self.sequenceModulo - 1)
                return false
            }
        }
        // Otherwise a duplicate or reordered packet: counted, the maximum unchanged.
        received &+= 1
        return true
    }

    /// A.8: J += (|D| - J) / 16, with D the difference of relative transit times.
    private mutating func updateJitter(rtpTimestamp: UInt32, arrival: NIODeadline) {
        let arrivalUnits = Int64(truncatingIfNeeded: UInt64(arrival.uptimeNanoseconds) * UInt64(clockRate) / 1_000_000_000)
        let transit = arrivalUnits - Int64(rtpTimestamp)
        if let last = lastTransit {
            var d = transit - last
            // Timestamps wrap at 2^32: fold the difference back into range.
            d = Int64(Int32(truncatingIfNeeded: d))
            jitterScaled += abs(d) - ((jitterScaled + 8) >> 4)
        }
        lastTransit = transit
    }

    /// A sender report from this source arrived (for LSR/DLSR in our next report).
    public mutating func receivedSenderReport(ntpTimestamp: UInt64, at arrival: NIODeadline) {
        lastSRMiddle = UInt32(truncatingIfNeeded: ntpTimestamp >> 16)
        lastSRArrival = arrival
    }

    /// The report block for this source, and the interval counters reset (A.3).
    public mutating func reportBlock(ssrc: UInt32, now: NIODeadline) -> RTCPReportBlock {
        let expected = started ? extendedHighestSequence &- baseSequence &+ 1 : 0
        let expectedInterval = expected &- expectedPrior
        let receivedInterval = received &- receivedPrior
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = Int64(expectedInterval) - Int64(receivedInterval)
        let fraction: UInt8 = expectedInterval == 0 || lostInterval <= 0 ? 0 : UInt8(min(255, (lostInterval << 8) / Int64(expectedInterval)))
        var delay: UInt32 = 0
        if let arrival = lastSRArrival {
            let nanoseconds = max(0, (now - arrival).nanoseconds)
            delay = UInt32(clamping: nanoseconds * 65536 / 1_000_000_000)
        }
        return RTCPReportBlock(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: Int32(clamping: cumulativeLost),
            extendedHighestSequence: extendedHighestSequence, jitter: jitter,
            lastSenderReport: lastSRMiddle, delaySinceLastSenderReport: delay)
    }
}

/// NTP timestamps (RFC 3550 §4): seconds since 1900 in the high 32 bits, fraction in the low.
public enum NTPTime {
    /// From Unix time (seconds since 1970, with fraction).
    public static func timestamp(unixSeconds: Double) -> UInt64 {
        let seconds = unixSeconds + 2_208_988_800
        let whole = UInt64(seconds)
        let fraction = UInt64((seconds - Double(whole)) * 4_294_967_296)
        return whole << 32 | fraction
    }

    /// Wall-clock seconds since 1970, for sender reports and round-trip times.
    @Sendable public static func unixNow() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// What call detail status shows about a received stream.
public struct ReceptionSummary: Sendable, Equatable {
    public var packets: UInt32
    public var payloadBytes: UInt64
    public var lost: Int64
    /// Interarrival jitter in milliseconds.
    public var jitterMilliseconds: Double

    public init(packets: UInt32, payloadBytes: UInt64 = 0, lost: Int64, jitterMilliseconds: Double) {
        self.packets = packets
        self.payloadBytes = payloadBytes
        self.lost = lost
        self.jitterMilliseconds = jitterMilliseconds
    }
}

extension ReceiveStatistics {
    public var summary: ReceptionSummary {
        ReceptionSummary(packets: received, payloadBytes: octets, lost: max(0, cumulativeLost), jitterMilliseconds: Double(jitter) * 1000 / Double(clockRate))
    }
}
