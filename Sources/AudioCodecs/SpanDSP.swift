// spandsp's telephony DSP for the SIP side of a call at 8 kHz: G.711 packet loss concealment
// (plc_*), and DTMF detection and generation (dtmf_rx_*, dtmf_tx_*), for trunks that carry DTMF in
// band. Each wrapper owns its spandsp state and frees it in deinit; all work on caller buffers.

import CSpanDSP

/// Conceals lost G.711 frames from the audio that came before (spandsp PLC).
public final class G711LossConcealer {
    private let state: OpaquePointer

    public init() {
        state = OpaquePointer(plc_init(nil)!)
    }

    deinit { plc_free(UnsafeMutablePointer(state)) }

    /// Passes a received frame through the concealer's history (the frame may be smoothed where
    /// it follows a concealed one).
    public func received(_ frame: UnsafeMutableBufferPointer<Int16>) {
        _ = plc_rx(UnsafeMutablePointer(state), frame.baseAddress, Int32(frame.count))
    }

    /// Fills `frame` with a synthetic continuation for a lost frame.
    public func conceal(into frame: UnsafeMutableBufferPointer<Int16>) {
        _ = plc_fillin(UnsafeMutablePointer(state), frame.baseAddress, Int32(frame.count))
    }
}

/// Detects DTMF digits in 8 kHz linear audio.
public final class DTMFDetector {
    private let state: OpaquePointer

    public init() {
        state = dtmf_rx_init(nil, nil, nil)
    }

    deinit { dtmf_rx_free(state) }

    /// Feeds audio; returns the digits completed so far ("0"-"9", "*", "#", "A"-"D").
    public func process(_ samples: UnsafeBufferPointer<Int16>) -> [Character] {
        _ = dtmf_rx(state, samples.baseAddress, Int32(samples.count))
        var buffer = [CChar](repeating: 0, count: 64)
        let count = dtmf_rx_get(state, &buffer, Int32(buffer.count - 1))
        return (0..<Int(count)).map { Character(UnicodeScalar(UInt8(bitPattern: buffer[$0]))) }
    }
}

/// Generates DTMF tones into 8 kHz linear audio.
public final class DTMFGenerator {
    private let state: OpaquePointer

    public init() {
        state = dtmf_tx_init(nil)
    }

    deinit { dtmf_tx_free(state) }

    /// Sets the length of each tone and of the pause after it, in milliseconds (spandsp's
    /// default is 50 ms and 55 ms, what a dialler sends; a person listening needs longer).
    public func setTiming(toneMilliseconds: Int, pauseMilliseconds: Int) {
        dtmf_tx_set_timing(state, Int32(toneMilliseconds), Int32(pauseMilliseconds))
    }

    /// Queues digits to play (default timing: 50 ms tone, 55 ms pause).
    public func queue(_ digits: String) {
        let bytes = Array(digits.utf8CString)
        _ = bytes.withUnsafeBufferPointer { dtmf_tx_put(state, $0.baseAddress, Int32(digits.utf8.count)) }
    }

    /// Writes the next samples of the queued tones; returns how many were written (0 when done).
    public func generate(into samples: UnsafeMutableBufferPointer<Int16>) -> Int {
        Int(dtmf_tx(state, samples.baseAddress, Int32(samples.count)))
    }
}
