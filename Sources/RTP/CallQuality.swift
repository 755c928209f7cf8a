// Call quality figures for operators: round-trip time from a reception report (RFC 3550 §6.4.1:
// arrival - LSR - DLSR, all in 1/65536 s) and an estimated MOS from the ITU-T G.107 E-model,
// simplified the usual way (G.107 defaults for everything but delay, loss and the codec).

public enum CallQuality {
    /// Round-trip time in milliseconds from a report block about our stream that arrived at
    /// `arrivalNTP` (a 64-bit NTP timestamp); nil when the peer had no SR of ours to refer to.
    public static func roundTripMilliseconds(_ block: RTCPReportBlock, arrivalNTP: UInt64) -> Double? {
        guard block.lastSenderReport != 0 else { return nil }
        let arrival = UInt32(truncatingIfNeeded: arrivalNTP >> 16)
        let rtt = Int64(Int32(bitPattern: arrival &- block.lastSenderReport &- block.delaySinceLastSenderReport))
        guard rtt >= 0 else { return nil }
        return Double(rtt) * 1000 / 65536
    }

    /// Equipment impairment (Ie) and packet-loss robustness (Bpl) per codec (G.113 values; Opus
    /// narrowband at voice bitrates taken as slightly better than G.711 with PLC).
    public enum Codec: Sendable {
        case pcmu, pcma, opus

        var impairment: Double { self == .opus ? 0 : 0 }
        var robustness: Double { self == .opus ? 30 : 25.1 }
    }

    /// Estimated MOS (1-4.5) from loss (0-1), jitter and round-trip time in milliseconds. The
    /// one-way delay is half the round trip plus a jitter buffer of twice the jitter plus one
    /// 20 ms packet.
    public static func mos(loss: Double, jitterMilliseconds: Double, roundTripMilliseconds: Double?, codec: Codec) -> Double {
        let delay = (roundTripMilliseconds ?? 0) / 2 + 2 * jitterMilliseconds + 20
        // Delay impairment Id (G.107 simplified).
        var id = 0.024 * delay
        if delay > 177.3 { id += 0.11 * (delay - 177.3) }
        // Effective equipment impairment with random loss.
        let lossPercent = max(0, min(100, loss * 100))
        let ie = codec.impairment + (95 - codec.impairment) * lossPercent / (lossPercent + codec.robustness)
        let r = max(0, min(100, 93.2 - id - ie))
        let mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6
        return max(1, min(4.5, mos))
    }
}
