import AudioCodecs
import XCTest

final class OpusTests: XCTestCase {
    private let frame = 160  // 20 ms at 8 kHz

    private func tone(frames: Int, frequency: Double = 440, amplitude: Double = 8000) -> [Int16] {
        (0..<(frames * frame)).map { Int16(amplitude * sin(2 * .pi * frequency * Double($0) / 8000)) }
    }

    private func zeroCrossings(_ samples: ArraySlice<Int16>) -> Int {
        zip(samples, samples.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
    }

    private func rms(_ samples: ArraySlice<Int16>) -> Double {
        (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot()
    }

    func testNarrowbandToneSurvivesEncodeAndDecode() throws {
        let encoder = try OpusVoiceEncoder()
        let decoder = try OpusVoiceDecoder()
        let input = tone(frames: 50)
        var output = [Int16]()
        var packet = [UInt8](repeating: 0, count: 1500)
        var pcm = [Int16](repeating: 0, count: frame)
        for index in 0..<50 {
            let length = try input[(index * frame)..<((index + 1) * frame)].withUnsafeBufferPointer { samples in
                try packet.withUnsafeMutableBytes { try encoder.encode(samples, into: $0) }
            }
            XCTAssertGreaterThan(length, 2)
            let decoded = try packet[0..<length].withUnsafeBytes { bytes in
                try pcm.withUnsafeMutableBufferPointer { try decoder.decode(bytes, into: $0) }
            }
            XCTAssertEqual(decoded, frame)
            output += pcm
        }
        // Skip the first 200 ms (codec delay and adaptation); the tone's pitch and level come through.
        let steady = output[1600...]
        let crossings = zeroCrossings(steady)  // 440 Hz: 880 crossings a second
        XCTAssertTrue((Int(0.95 * 880 * 0.8)...Int(1.05 * 880 * 0.8)).contains(crossings), "zero crossings \(crossings) in 0.8 s")
        let ratio = rms(steady) / rms(input[1600...])
        XCTAssertTrue((0.7...1.3).contains(ratio), "level ratio \(ratio)")
    }

    func testLossIsConcealedAndRecoveredFromFEC() throws {
        let encoder = try OpusVoiceEncoder(OpusEncoderSettings(inbandFEC: true, packetLossPercent: 20))
        let decoder = try OpusVoiceDecoder()
        let input = tone(frames: 20)
        var packets: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 1500)
        for index in 0..<20 {
            let length = try input[(index * frame)..<((index + 1) * frame)].withUnsafeBufferPointer { samples in
                try buffer.withUnsafeMutableBytes { try encoder.encode(samples, into: $0) }
            }
            packets.append(Array(buffer[0..<length]))
        }
        var pcm = [Int16](repeating: 0, count: frame)
        for index in 0..<10 {
            _ = try packets[index].withUnsafeBytes { bytes in try pcm.withUnsafeMutableBufferPointer { try decoder.decode(bytes, into: $0) } }
        }
        // Packet 10 is lost: conceal it, or recover it from packet 11's redundancy.
        let concealed = try pcm.withUnsafeMutableBufferPointer { try decoder.conceal(into: $0) }
        XCTAssertEqual(concealed, frame)
        XCTAssertGreaterThan(rms(pcm[...]), 100, "concealment continues the tone rather than going silent")
        let recovered = try packets[11].withUnsafeBytes { bytes in
            try pcm.withUnsafeMutableBufferPointer { try decoder.decode(bytes, into: $0, fromFEC: true) }
        }
        XCTAssertEqual(recovered, frame)
    }

    func testBadInputIsAnErrorNotACrash() throws {
        let decoder = try OpusVoiceDecoder()
        var pcm = [Int16](repeating: 0, count: 160)
        // A TOC byte announcing a code-3 packet with an impossible frame count.
        let garbage: [UInt8] = [0xFF, 0xFF, 0xFF]
        XCTAssertThrowsError(try garbage.withUnsafeBytes { bytes in try pcm.withUnsafeMutableBufferPointer { try decoder.decode(bytes, into: $0) } })
        XCTAssertThrowsError(try OpusVoiceEncoder(OpusEncoderSettings(sampleRate: 44100)), "Opus does not run at 44.1 kHz")
    }
}
