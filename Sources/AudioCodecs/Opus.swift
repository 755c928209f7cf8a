// libopus encoder and decoder for transcoding (RFC 6716, RFC 7587), created at the G.711 rate of
// 8 kHz mono so no resampler sits between Opus and G.711: libopus codes narrowband internally and
// the browser is told, by fmtp, to send what fits. Each wrapper owns its C state and frees it in
// deinit; encode and decode work on caller-owned buffers (no allocation per frame).

import COpus
import CTandemShims

/// Why libopus refused an operation.
public struct OpusError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int32
    public var operation: String

    public var description: String { "\(operation): \(String(cString: opus_strerror(code)))" }
}

/// Encoder settings (from the codec profile).
public struct OpusEncoderSettings: Sendable, Equatable {
    public var sampleRate: Int32
    public var bitrate: Int32
    public var complexity: Int32
    public var inbandFEC: Bool
    public var dtx: Bool
    /// Expected loss in percent, which makes FEC worth its bits.
    public var packetLossPercent: Int32

    public init(sampleRate: Int32 = 8000, bitrate: Int32 = 32000, complexity: Int32 = 5, inbandFEC: Bool = true, dtx: Bool = false,
                packetLossPercent: Int32 = 5) {
        self.sampleRate = sampleRate
        self.bitrate = bitrate
        self.complexity = complexity
        self.inbandFEC = inbandFEC
        self.dtx = dtx
        self.packetLossPercent = packetLossPercent
    }
}

/// A mono Opus encoder for voice.
public final class OpusVoiceEncoder {
    private let state: OpaquePointer
    public let sampleRate: Int32

    public init(_ settings: OpusEncoderSettings = OpusEncoderSettings()) throws(OpusError) {
        var error: Int32 = OPUS_OK
        guard let state = opus_encoder_create(settings.sampleRate, 1, OPUS_APPLICATION_VOIP, &error), error == OPUS_OK else {
            throw OpusError(code: error, operation: "opus_encoder_create")
        }
        self.state = state
        sampleRate = settings.sampleRate
        let results = [
            tandem_opus_set_bitrate(state, settings.bitrate),
            tandem_opus_set_complexity(state, settings.complexity),
            tandem_opus_set_inband_fec(state, settings.inbandFEC ? 1 : 0),
            tandem_opus_set_dtx(state, settings.dtx ? 1 : 0),
            tandem_opus_set_packet_loss_percent(state, settings.packetLossPercent),
        ]
        if let failed = results.first(where: { $0 != OPUS_OK }) {
            opus_encoder_destroy(state)
            throw OpusError(code: failed, operation: "opus_encoder_ctl")
        }
    }

    deinit { opus_encoder_destroy(state) }

    /// Encodes one frame (2.5 to 60 ms of samples at the encoder's rate) into `packet`; returns
    /// the packet length (1 or 2 bytes mean DTX silence).
    public func encode(_ pcm: UnsafeBufferPointer<Int16>, into packet: UnsafeMutableRawBufferPointer) throws(OpusError) -> Int {
        guard let input = pcm.baseAddress, let output = packet.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw OpusError(code: OPUS_BAD_ARG, operation: "opus_encode")
        }
        let length = opus_encode(state, input, Int32(pcm.count), output, Int32(packet.count))
        guard length >= 0 else { throw OpusError(code: length, operation: "opus_encode") }
        return Int(length)
    }
}

/// A mono Opus decoder with loss concealment and in-band FEC recovery.
public final class OpusVoiceDecoder {
    private let state: OpaquePointer
    public let sampleRate: Int32

    public init(sampleRate: Int32 = 8000) throws(OpusError) {
        var error: Int32 = OPUS_OK
        guard let state = opus_decoder_create(sampleRate, 1, &error), error == OPUS_OK else {
            throw OpusError(code: error, operation: "opus_decoder_create")
        }
        self.state = state
        self.sampleRate = sampleRate
    }

    deinit { opus_decoder_destroy(state) }

    /// Decodes a packet into `pcm`; returns the samples written. With `fromFEC`, decodes the
    /// redundant copy of the *previous* frame that `packet` carries (RFC 6716 §2.1.7): `pcm` must
    /// then be exactly one frame long.
    public func decode(_ packet: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Int16>, fromFEC: Bool = false) throws(OpusError) -> Int {
        guard let output = pcm.baseAddress else { throw OpusError(code: OPUS_BAD_ARG, operation: "opus_decode") }
        let samples = opus_decode(state, packet.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(packet.count),
                                  output, Int32(pcm.count), fromFEC ? 1 : 0)
        guard samples >= 0 else { throw OpusError(code: samples, operation: "opus_decode") }
        return Int(samples)
    }

    /// Conceals one lost frame (packet loss concealment): fills `pcm` (one frame) from the
    /// decoder's state.
    public func conceal(into pcm: UnsafeMutableBufferPointer<Int16>) throws(OpusError) -> Int {
        guard let output = pcm.baseAddress else { throw OpusError(code: OPUS_BAD_ARG, operation: "opus_decode") }
        let samples = opus_decode(state, nil, 0, output, Int32(pcm.count), 0)
        guard samples >= 0 else { throw OpusError(code: samples, operation: "opus_decode (PLC)") }
        return Int(samples)
    }
}
