// The transcode pipeline against the bare libraries, in the same process: one 20 ms frame of a
// transcoded call in both directions.
//
//   bare      srtp_unprotect, opus_decode (8 kHz), µ-law encode; µ-law decode, opus_encode,
//             an RTP header written in place, srtp_protect. libsrtp and libopus called directly,
//             no allocation, no header parsing, no loss handling.
//   pipeline  what a call's worker runs: SRTPSession.unprotect, MediaBridge.fromWeb (header
//             parse, sequence check, Opus decode, repacketizer, µ-law encode, header rewrite),
//             MediaBridge.fromTrunk (the reverse, Opus encode), SRTPSession.protect.
//
// Both use AES128_CM_SHA1_80, the same Opus settings (the bridge's defaults) and the same
// speech-like input, pre-encoded and pre-protected outside the timed loop.

import AudioCodecs
import COpus
import CSRTP
import CTandemShims
import DTLS
import Foundation
import MediaEngine
import SRTP

/// A speech-like signal at 8 kHz: a voiced fundamental gliding around 140 Hz with harmonics
/// falling off, under a syllable envelope (about 4 per second) with pauses.
func speechLikeSignal(samples: Int) -> [Int16] {
    var out = [Int16](repeating: 0, count: samples)
    var phase = 0.0
    for n in 0..<samples {
        let t = Double(n) / 8000
        let f0 = 140 + 25 * sin(2 * .pi * 0.7 * t)
        phase += 2 * .pi * f0 / 8000
        var value = 0.0
        for harmonic in 1...12 { value += sin(Double(harmonic) * phase) / Double(harmonic) }
        let syllable = max(0, sin(2 * .pi * 4 * t))
        let phrase = sin(2 * .pi * 0.25 * t) > -0.5 ? 1.0 : 0.05  // a pause a third of the time
        out[n] = Int16(clamping: Int(5000 * value * syllable * phrase))
    }
    return out
}

struct PipelineFigures {
    var bareNanoseconds: Double
    var pipelineNanoseconds: Double
    var frames: Int
}

/// Times both, interleaved round by round so machine noise falls on both alike.
func measureTranscodePipeline(rounds: Int = 6, framesPerRound: Int = 1500) -> PipelineFigures {
    // libsrtp is initialised by the first SRTPSession (srtp_init must run only once).
    let keying = SRTPKeyingMaterial(clientWriteKey: (0..<16).map { UInt8($0) }, serverWriteKey: (16..<32).map { UInt8($0) },
                                    clientWriteSalt: (32..<46).map { UInt8($0) }, serverWriteSalt: (46..<60).map { UInt8($0) })
    let profile = SRTPProtectionProfile.aes128CMSHA1_80
    let settings = OpusEncoderSettings()

    // Input: the browser's Opus (SRTP) and the trunk's µ-law (RTP), one packet per 20 ms frame.
    let signal = speechLikeSignal(samples: framesPerRound * 160)
    let browserEncoder = try! OpusVoiceEncoder(settings)
    let browserSender = try! SRTPSession(profile: profile, keyingMaterial: keying, role: .client, direction: .outbound)
    var browserPackets: [[UInt8]] = []
    var trunkPackets: [[UInt8]] = []
    var scratch = [UInt8](repeating: 0, count: 1500)
    for index in 0..<framesPerRound {
        let frame = Array(signal[(index * 160)..<((index + 1) * 160)])
        let length = frame.withUnsafeBufferPointer { pcm in scratch.withUnsafeMutableBytes { try! browserEncoder.encode(pcm, into: $0) } }
        var packet = rtpHeader(payloadType: 111, sequence: UInt16(index), timestamp: UInt32(index * 960), ssrc: 0x1111)
        packet += scratch[0..<length]
        try! browserSender.protect(rtp: &packet)
        browserPackets.append(packet)
        var trunk = rtpHeader(payloadType: 0, sequence: UInt16(index), timestamp: UInt32(index * 160), ssrc: 0x2222)
        trunk += [UInt8](repeating: 0, count: 160)
        frame.withUnsafeBufferPointer { pcm in trunk.withUnsafeMutableBufferPointer { MuLaw.encode(pcm, into: UnsafeMutableBufferPointer(rebasing: $0[12...])) } }
        trunkPackets.append(trunk)
    }

    var bareCPU = 0.0
    var pipelineCPU = 0.0
    var sink = 0
    for round in 0..<(rounds + 1) {  // round 0 is a warm-up
        // Bare.
        do {
            var inbound: srtp_t?
            var outbound: srtp_t?
            var inKey = keying.keyAndSalt(writtenBy: .client)
            var outKey = keying.keyAndSalt(writtenBy: .server)
            var policy = srtp_policy_t()
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
            policy.ssrc.type = ssrc_any_inbound
            inKey.withUnsafeMutableBufferPointer { policy.key = $0.baseAddress; _ = srtp_create(&inbound, &policy) }
            policy.ssrc.type = ssrc_any_outbound
            outKey.withUnsafeMutableBufferPointer { policy.key = $0.baseAddress; _ = srtp_create(&outbound, &policy) }
            var error: Int32 = 0
            let decoder = opus_decoder_create(8000, 1, &error)!
            let encoder = opus_encoder_create(8000, 1, OPUS_APPLICATION_VOIP, &error)!
            _ = tandem_opus_set_bitrate(encoder, settings.bitrate)
            _ = tandem_opus_set_complexity(encoder, settings.complexity)
            _ = tandem_opus_set_inband_fec(encoder, settings.inbandFEC ? 1 : 0)
            _ = tandem_opus_set_dtx(encoder, settings.dtx ? 1 : 0)
            _ = tandem_opus_set_packet_loss_percent(encoder, settings.packetLossPercent)
            let input = UnsafeMutablePointer<UInt8>.allocate(capacity: 1500)
            let output = UnsafeMutablePointer<UInt8>.allocate(capacity: 1500)
            let trunkOut = UnsafeMutablePointer<UInt8>.allocate(capacity: 1500)
            let pcm = UnsafeMutablePointer<Int16>.allocate(capacity: 960)
            let pcmBack = UnsafeMutablePointer<Int16>.allocate(capacity: 160)
            let start = cpuNanoseconds()
            for index in 0..<framesPerRound {
                // Browser -> trunk.
                var length = Int32(browserPackets[index].count)
                browserPackets[index].withUnsafeBytes { input.update(from: $0.baseAddress!.assumingMemoryBound(to: UInt8.self), count: Int(length)) }
                guard srtp_unprotect(inbound, input, &length) == srtp_err_status_ok else { fatalError("bare unprotect") }
                let samples = opus_decode(decoder, input + 12, length - 12, pcm, 960, 0)
                MuLaw.encode(UnsafeBufferPointer(start: pcm, count: Int(samples)), into: UnsafeMutableBufferPointer(start: trunkOut + 12, count: Int(samples)))
                // Trunk -> browser.
                trunkPackets[index].withUnsafeBytes { raw in
                    MuLaw.decode(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + 12, count: 160),
                                 into: UnsafeMutableBufferPointer(start: pcmBack, count: 160))
                }
                let encoded = opus_encode(encoder, pcmBack, 160, output + 12, 1400)
                output[0] = 0x80; output[1] = 111
                output[2] = UInt8(truncatingIfNeeded: index >> 8); output[3] = UInt8(truncatingIfNeeded: index)
                output[8] = 0x12; output[9] = 0x34; output[10] = 0x56; output[11] = 0x78
                var outLength = encoded + 12
                guard srtp_protect(outbound, output, &outLength) == srtp_err_status_ok else { fatalError("bare protect") }
                sink &+= Int(outLength) &+ Int(trunkOut[20])
            }
            if round > 0 { bareCPU += cpuNanoseconds() - start }
            input.deallocate(); output.deallocate(); trunkOut.deallocate(); pcm.deallocate(); pcmBack.deallocate()
            opus_decoder_destroy(decoder); opus_encoder_destroy(encoder)
            srtp_dealloc(inbound); srtp_dealloc(outbound)
        }
        // Pipeline.
        do {
            let inbound = try! SRTPSession(profile: profile, keyingMaterial: keying, role: .server, direction: .inbound)
            let outbound = try! SRTPSession(profile: profile, keyingMaterial: keying, role: .server, direction: .outbound)
            let bridge = try! MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111), trunk: BridgeStream(codec: .pcmu, payloadType: 0),
                                          opus: settings)
            let start = cpuNanoseconds()
            for index in 0..<framesPerRound {
                var packet = browserPackets[index]
                try! inbound.unprotect(rtp: &packet)
                for out in bridge.fromWeb(packet) { sink &+= out.count }
                for out in bridge.fromTrunk(trunkPackets[index]) {
                    var protected = out
                    try! outbound.protect(rtp: &protected)
                    sink &+= protected.count
                }
            }
            if round > 0 { pipelineCPU += cpuNanoseconds() - start }
            precondition(bridge.counters.transcodedFrames == 2 * framesPerRound, "pipeline: \(bridge.counters)")
        }
    }
    blackHole(sink)
    let frames = rounds * framesPerRound
    return PipelineFigures(bareNanoseconds: bareCPU / Double(frames), pipelineNanoseconds: pipelineCPU / Double(frames), frames: frames)
}

func rtpHeader(payloadType: UInt8, sequence: UInt16, timestamp: UInt32, ssrc: UInt32) -> [UInt8] {
    [0x80, payloadType, UInt8(sequence >> 8), UInt8(sequence & 0xFF),
     UInt8(timestamp >> 24), UInt8((timestamp >> 16) & 0xFF), UInt8((timestamp >> 8) & 0xFF), UInt8(timestamp & 0xFF),
     UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xFF), UInt8((ssrc >> 8) & 0xFF), UInt8(ssrc & 0xFF)]
}
