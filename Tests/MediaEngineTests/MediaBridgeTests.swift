// The bridge between a call's legs, in memory: relay keeps payloads byte for byte and makes one
// continuous stream; transcoding turns Opus into G.711 and back at the receiving leg's ptime,
// conceals loss, and DTMF events cross with their payload type and clock translated.

import AudioCodecs
import Foundation
import MediaEngine
import NIOCore
import RTP
import XCTest

final class MediaBridgeTests: XCTestCase {
    private func packet(pt: UInt8, seq: UInt16, ts: UInt32, ssrc: UInt32 = 0x1111, marker: Bool = false, payload: [UInt8]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 12)
        bytes.withUnsafeMutableBytes { RTPHeader.write(marker: marker, payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc: ssrc, into: $0) }
        return bytes + payload
    }

    private func tone(_ frequency: Double, samples: Int, offset: Int = 0, amplitude: Double = 8000) -> [Int16] {
        (0..<samples).map { Int16(amplitude * sin(2 * .pi * frequency * Double($0 + offset) / 8000)) }
    }

    /// The dominant frequency of 8 kHz samples, by counting zero crossings.
    private func frequency(of samples: [Int16]) -> Double {
        var crossings = 0
        for index in 1..<samples.count where (samples[index - 1] < 0) != (samples[index] < 0) { crossings += 1 }
        return Double(crossings) / 2 / (Double(samples.count) / 8000)
    }

    private func opusPackets(_ frequency: Double, count: Int) throws -> [[UInt8]] {
        let encoder = try OpusVoiceEncoder(OpusEncoderSettings(sampleRate: 8000))
        return try (0..<count).map { index in
            let pcm = tone(frequency, samples: 160, offset: index * 160)
            var out = [UInt8](repeating: 0, count: 400)
            let length = try pcm.withUnsafeBufferPointer { pcm in try out.withUnsafeMutableBytes { try encoder.encode(pcm, into: $0) } }
            return Array(out[0..<length])
        }
    }

    // MARK: Relay

    func testRelayKeepsPayloadBytesAndRewritesTheHeaderIntoOneStream() throws {
        let web = BridgeStream(codec: .pcmu, payloadType: 0, ssrc: 0xAAAA)
        let trunk = BridgeStream(codec: .pcmu, payloadType: 0, ssrc: 0xBBBB)
        let bridge = try MediaBridge(web: web, trunk: trunk)
        XCTAssertEqual(bridge.mode, .relay)
        let payload = (0..<160).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var sent: [[UInt8]] = []
        for index in 0..<5 {
            // The browser changes SSRC (and numbering) halfway through, as after a re-INVITE.
            let ssrc: UInt32 = index < 3 ? 0x1111 : 0x2222
            let seq = index < 3 ? UInt16(100 + index) : UInt16(9000 + index)
            sent += bridge.fromWeb(packet(pt: 0, seq: seq, ts: UInt32(seq) * 160, ssrc: ssrc, payload: payload))
        }
        XCTAssertEqual(sent.count, 5)
        let headers = try sent.map { try RTPHeader(parsing: $0) }
        XCTAssertEqual(Set(headers.map(\.ssrc)), [0xBBBB])
        for index in 1..<headers.count {
            XCTAssertEqual(headers[index].sequenceNumber, headers[index - 1].sequenceNumber &+ 1)
            XCTAssertEqual(headers[index].timestamp, headers[index - 1].timestamp &+ 160)
        }
        for out in sent { XCTAssertEqual(Array(out[12...]), payload) }
        XCTAssertEqual(bridge.counters.relayed, 5)
        XCTAssertEqual(bridge.counters.transcodedFrames, 0)
    }

    func testRelayDropsHeaderExtensionsAndMapsThePayloadType() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .pcma, payloadType: 8), trunk: BridgeStream(codec: .pcma, payloadType: 8))
        // A browser packet with a one-byte header extension (audio level).
        var bytes = packet(pt: 8, seq: 1, ts: 0, payload: [])
        bytes[0] |= 0x10
        bytes += [0xBE, 0xDE, 0x00, 0x01, 0x10, 0x2A, 0x00, 0x00] + [UInt8](repeating: 0xD5, count: 160)
        let out = try XCTUnwrap(bridge.fromWeb(bytes).first)
        XCTAssertEqual(out.count, 12 + 160)
        XCTAssertEqual(out[0] & 0x10, 0, "no extension toward the trunk")
        XCTAssertEqual(Array(out[12...]), [UInt8](repeating: 0xD5, count: 160))
    }

    // MARK: Transcoding

    func testOpusFromTheBrowserBecomesPCMUAtTheTrunksPtime() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111), trunk: BridgeStream(codec: .pcmu, payloadType: 0, ptime: 30))
        XCTAssertEqual(bridge.mode, .transcode)
        var out: [[UInt8]] = []
        for (index, opus) in try opusPackets(660, count: 30).enumerated() {
            out += bridge.fromWeb(packet(pt: 111, seq: UInt16(index), ts: UInt32(index) * 960, payload: opus))
        }
        XCTAssertEqual(out.count, 20, "30 frames of 20 ms are 20 packets of 30 ms")
        let headers = try out.map { try RTPHeader(parsing: $0) }
        XCTAssertTrue(headers.allSatisfy { $0.payloadType == 0 && $0.payloadRange.count == 240 })
        for index in 1..<headers.count { XCTAssertEqual(headers[index].timestamp &- headers[index - 1].timestamp, 240) }
        let pcm = out.dropFirst(4).flatMap { $0[12...].map(MuLaw.decode) }
        XCTAssertEqual(frequency(of: pcm), 660, accuracy: 20)
        XCTAssertEqual(bridge.counters.transcodedFrames, 20)
    }

    func testPCMAFromTheTrunkBecomesOpusAt48kHzTimestamps() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111), trunk: BridgeStream(codec: .pcma, payloadType: 8))
        let decoder = try OpusVoiceDecoder(sampleRate: 8000)
        var decoded: [Int16] = []
        var timestamps: [UInt32] = []
        for index in 0..<25 {
            let g711 = tone(440, samples: 160, offset: index * 160).map(ALaw.encode)
            for out in bridge.fromTrunk(packet(pt: 8, seq: UInt16(index), ts: UInt32(index) * 160, payload: g711)) {
                let header = try RTPHeader(parsing: out)
                XCTAssertEqual(header.payloadType, 111)
                timestamps.append(header.timestamp)
                var pcm = [Int16](repeating: 0, count: 960)
                let count = try out.withUnsafeBytes { raw in
                    try pcm.withUnsafeMutableBufferPointer { try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[header.payloadRange]), into: $0) }
                }
                decoded += pcm[0..<count]
            }
        }
        XCTAssertEqual(timestamps.count, 25)
        for index in 1..<timestamps.count { XCTAssertEqual(timestamps[index] &- timestamps[index - 1], 960) }
        XCTAssertEqual(frequency(of: Array(decoded.dropFirst(800))), 440, accuracy: 20)
    }

    func testLostOpusPacketsAreConcealedAndTheStreamStaysContinuous() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111), trunk: BridgeStream(codec: .pcmu, payloadType: 0))
        var out: [[UInt8]] = []
        for (index, opus) in try opusPackets(500, count: 20).enumerated() where index != 7 && index != 12 && index != 13 {
            out += bridge.fromWeb(packet(pt: 111, seq: UInt16(index), ts: UInt32(index) * 960, payload: opus))
        }
        XCTAssertEqual(out.count, 20, "every lost 20 ms is filled")
        XCTAssertEqual(bridge.counters.concealedFrames, 3)
        XCTAssertEqual(bridge.counters.fecRecoveredFrames, 2, "the frame just before each received packet comes from its FEC")
        let headers = try out.map { try RTPHeader(parsing: $0) }
        for index in 1..<headers.count {
            XCTAssertEqual(headers[index].timestamp &- headers[index - 1].timestamp, 160)
            XCTAssertEqual(headers[index].sequenceNumber, headers[index - 1].sequenceNumber &+ 1)
        }
        // A late packet (older than the last one) is dropped, not played out of place.
        let late = bridge.fromWeb(packet(pt: 111, seq: 5, ts: 5 * 960, payload: try opusPackets(500, count: 1)[0]))
        XCTAssertTrue(late.isEmpty)
    }

    func testLostG711PacketsAreConcealedBySpanDSP() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111), trunk: BridgeStream(codec: .pcmu, payloadType: 0))
        var out: [[UInt8]] = []
        for index in 0..<10 where index != 4 {
            let g711 = tone(440, samples: 160, offset: index * 160).map(MuLaw.encode)
            out += bridge.fromTrunk(packet(pt: 0, seq: UInt16(index), ts: UInt32(index) * 160, payload: g711))
        }
        XCTAssertEqual(out.count, 10)
        XCTAssertEqual(bridge.counters.concealedFrames, 1)
    }

    func testUnknownPayloadTypesAreDroppedAndCounted() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111), trunk: BridgeStream(codec: .pcmu, payloadType: 0))
        XCTAssertTrue(bridge.fromTrunk(packet(pt: 13, seq: 1, ts: 0, payload: [0x40])).isEmpty)  // comfort noise
        XCTAssertTrue(bridge.fromTrunk([0x80, 0x00, 0x01]).isEmpty)  // truncated
        XCTAssertEqual(bridge.counters.dropped, 2)
    }

    // MARK: DTMF

    func testTelephoneEventsCrossWithClockAndPayloadTypeTranslated() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111, telephoneEvent: (110, 48000)),
                                     trunk: BridgeStream(codec: .pcmu, payloadType: 0, telephoneEvent: (101, 8000)))
        // Audio first, so the trunk stream has a timestamp, then digit 5 for 120 ms at 48 kHz.
        for (index, opus) in try opusPackets(300, count: 3).enumerated() {
            _ = bridge.fromWeb(packet(pt: 111, seq: UInt16(index), ts: UInt32(index) * 960, payload: opus))
        }
        var events: [[UInt8]] = []
        for (step, duration) in [960, 1920, 3840, 5760, 5760, 5760].enumerated() {
            let end = step >= 3
            let payload: [UInt8] = [5, (end ? 0x80 : 0) | 10, UInt8(duration >> 8), UInt8(duration & 0xFF)]
            events += bridge.fromWeb(packet(pt: 110, seq: UInt16(3 + step), ts: 3 * 960, marker: step == 0, payload: payload))
        }
        XCTAssertEqual(events.count, 6)
        let headers = try events.map { try RTPHeader(parsing: $0) }
        XCTAssertTrue(headers.allSatisfy { $0.payloadType == 101 })
        XCTAssertEqual(Set(headers.map(\.timestamp)).count, 1, "one event, one timestamp")
        XCTAssertTrue(headers[0].marker)
        let parsed = try events.map { bytes in try bytes.withUnsafeBytes { try TelephoneEvent(parsing: UnsafeRawBufferPointer(rebasing: $0[12...])) } }
        XCTAssertEqual(parsed.map(\.duration), [160, 320, 640, 960, 960, 960])
        XCTAssertEqual(parsed.map(\.end), [false, false, false, true, true, true])
        XCTAssertTrue(parsed.allSatisfy { $0.event == 5 })
        for index in 1..<headers.count { XCTAssertEqual(headers[index].sequenceNumber, headers[index - 1].sequenceNumber &+ 1) }
    }

    /// Runs the bridge's digit timer from `start` for `milliseconds`, 10 ms at a time.
    private func runDigits(_ bridge: MediaBridge, from start: NIODeadline, milliseconds: Int) -> [(at: Int, trunk: [[UInt8]], web: [[UInt8]])] {
        stride(from: 0, through: milliseconds, by: 10).map { offset in
            let (trunk, web) = bridge.timeout(now: start + .milliseconds(Int64(offset)))
            return (offset, trunk, web)
        }
    }

    private func event(_ packet: [UInt8]) throws -> TelephoneEvent {
        try packet.withUnsafeBytes { try TelephoneEvent(parsing: UnsafeRawBufferPointer(rebasing: $0[12...])) }
    }

    func testInbandDTMFFromATrunkReachesTheBrowserAsEvents() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111, telephoneEvent: (110, 48000)),
                                     trunk: BridgeStream(codec: .pcmu, payloadType: 0), detectInbandDTMF: true)
        let generator = DTMFGenerator()
        generator.queue("19#")
        for index in 0..<40 {
            var pcm = [Int16](repeating: 0, count: 160)
            _ = pcm.withUnsafeMutableBufferPointer { generator.generate(into: $0) }
            _ = bridge.fromTrunk(packet(pt: 0, seq: UInt16(index), ts: UInt32(index) * 160, payload: pcm.map(MuLaw.encode)))
        }
        XCTAssertEqual(bridge.counters.inbandDigits, 3)
        XCTAssertNotNil(bridge.nextDeadline, "detected digits wait for the timer")
        let sent = runDigits(bridge, from: .now(), milliseconds: 600).flatMap(\.web)
        let events = try sent.map(event)
        XCTAssertTrue(sent.allSatisfy { $0[1] & 0x7F == 110 })
        XCTAssertEqual(events.filter { !$0.end && $0.duration == 0 }.compactMap(\.digit), ["1", "9", "#"])
        XCTAssertEqual(events.filter(\.end).count, 9)
        XCTAssertEqual(events.filter(\.end).first?.duration, 4800, "100 ms at 48 kHz")
        XCTAssertNil(bridge.nextDeadline)
    }

    func testADigitFromSIPInfoIsPacedInRealTime() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111), trunk: BridgeStream(codec: .pcmu, payloadType: 0, telephoneEvent: (101, 8000)))
        XCTAssertTrue(bridge.queueDigitTowardTrunk("#", durationMilliseconds: 160))
        let sent = runDigits(bridge, from: .now(), milliseconds: 300).filter { !$0.trunk.isEmpty }
        // Start at 0 ms, updates at 50, 100, 150 ms, the end three times at 160 ms.
        XCTAssertEqual(sent.map(\.at), [0, 50, 100, 150, 160])
        let events = try sent.flatMap(\.trunk).map(event)
        XCTAssertEqual(events.map(\.event), Array(repeating: 11, count: 7))
        XCTAssertEqual(events.map(\.duration), [0, 400, 800, 1200, 1280, 1280, 1280])
        XCTAssertEqual(events.map(\.end), [false, false, false, false, true, true, true])
        let headers = try sent.flatMap(\.trunk).map { try RTPHeader(parsing: $0) }
        XCTAssertEqual(Set(headers.map(\.timestamp)).count, 1)
        XCTAssertTrue(headers[0].marker)
        let noEvents = try MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111), trunk: BridgeStream(codec: .pcmu, payloadType: 0))
        XCTAssertFalse(noEvents.queueDigitTowardTrunk("1", durationMilliseconds: 100), "a trunk without telephone-event gets none")
        XCTAssertNil(noEvents.nextDeadline)
    }

    func testTimeWithoutAudioDuringAnEventKeepsTimestampsInStepWithTheClock() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .opus, payloadType: 111, telephoneEvent: (110, 48000)),
                                     trunk: BridgeStream(codec: .pcmu, payloadType: 0, telephoneEvent: (101, 8000)))
        let opus = try opusPackets(400, count: 6)
        var audio: [RTPHeader] = []
        var events: [RTPHeader] = []
        func send(_ packet: [UInt8]) throws {
            for out in bridge.fromWeb(packet) {
                let header = try RTPHeader(parsing: out)
                if header.payloadType == 101 { events.append(header) } else { audio.append(header) }
            }
        }
        // 3 frames of audio (ts 0..1920), then digits 1 and 2 of 100 ms each 70 ms apart with no
        // audio at all (as Chrome does), then audio again at the time it resumes.
        for index in 0..<3 { try send(packet(pt: 111, seq: UInt16(index), ts: UInt32(index) * 960, payload: opus[index])) }
        var seq: UInt16 = 3
        for (digit, start) in [(UInt8(1), UInt32(2880)), (UInt8(2), UInt32(2880 + 8160))] {
            for (step, end) in [(0, false), (1, true), (2, true)] {
                let duration = end ? 4800 : 960
                try send(packet(pt: 110, seq: seq, ts: start, marker: step == 0,
                                payload: [digit, (end ? 0x80 : 0) | 10, UInt8(duration >> 8), UInt8(duration & 0xFF)]))
                seq += 1
            }
        }
        let resume: UInt32 = 2880 + 2 * 8160
        for index in 0..<3 { try send(packet(pt: 111, seq: seq + UInt16(index), ts: resume + UInt32(index) * 960, payload: opus[3 + index])) }
        XCTAssertEqual(events.count, 6)
        let first = events[0].timestamp, second = events[3].timestamp
        XCTAssertEqual(second &- first, 1360, "170 ms apart at 8 kHz")
        XCTAssertEqual(first &- audio[0].timestamp, 480, "the first event starts after three 20 ms frames")
        XCTAssertEqual(audio[3].timestamp &- audio[2].timestamp, 160 + 2 * 1360, "audio resumes 340 ms later on the trunk too")
    }

    func testDigitsInsertedIntoARelayedStreamKeepItsNumberingAndDoNotOverlap() throws {
        let bridge = try MediaBridge(web: BridgeStream(codec: .pcmu, payloadType: 0),
                                     trunk: BridgeStream(codec: .pcmu, payloadType: 0, telephoneEvent: (101, 8000)))
        let payload = [UInt8](repeating: 0xFF, count: 160)
        var out = bridge.fromWeb(packet(pt: 0, seq: 10, ts: 1600, payload: payload))
        bridge.queueDigitTowardTrunk("7", durationMilliseconds: 100)
        bridge.queueDigitTowardTrunk("8", durationMilliseconds: 100)
        out += runDigits(bridge, from: .now(), milliseconds: 400).flatMap(\.trunk)
        out += bridge.fromWeb(packet(pt: 0, seq: 11, ts: 1760, payload: payload))
        let headers = try out.map { try RTPHeader(parsing: $0) }
        for index in 1..<headers.count { XCTAssertEqual(headers[index].sequenceNumber, headers[index - 1].sequenceNumber &+ 1) }
        let starts = headers.filter { $0.payloadType == 101 && $0.marker }.map(\.timestamp)
        XCTAssertEqual(starts.count, 2)
        XCTAssertEqual(starts[1] &- starts[0], 1120, "the second digit starts 100 + 40 ms after the first")
    }
}
