import AudioCodecs
import XCTest

final class SpanDSPTests: XCTestCase {
    func testGeneratedDTMFIsDetected() {
        let generator = DTMFGenerator()
        let detector = DTMFDetector()
        generator.queue("159#*0")
        var frame = [Int16](repeating: 0, count: 160)
        var digits: [Character] = []
        for _ in 0..<200 {  // 4 s at most
            let written = frame.withUnsafeMutableBufferPointer { generator.generate(into: $0) }
            if written < frame.count { for index in written..<frame.count { frame[index] = 0 } }
            digits += frame.withUnsafeBufferPointer { detector.process($0) }
        }
        XCTAssertEqual(String(digits), "159#*0")
    }

    func testSilenceAndSpeechLikeToneGiveNoDigits() {
        let detector = DTMFDetector()
        let tone = (0..<8000).map { Int16(6000 * sin(2 * .pi * 440 * Double($0) / 8000)) }
        XCTAssertEqual(tone.withUnsafeBufferPointer { detector.process($0) }, [])
    }

    func testLossConcealmentContinuesTheSignal() {
        let concealer = G711LossConcealer()
        var frame = [Int16](repeating: 0, count: 160)
        for index in 0..<25 {
            for n in 0..<160 { frame[n] = Int16(6000 * sin(2 * .pi * 440 * Double(index * 160 + n) / 8000)) }
            frame.withUnsafeMutableBufferPointer { concealer.received($0) }
        }
        var filled = [Int16](repeating: 0, count: 160)
        filled.withUnsafeMutableBufferPointer { concealer.conceal(into: $0) }
        let energy = filled.reduce(0.0) { $0 + Double($1) * Double($1) } / 160
        XCTAssertGreaterThan(energy.squareRoot(), 1000, "a lost frame is filled from the past signal, not with silence")
    }
}
