import RTP
import XCTest

final class TelephoneEventTests: XCTestCase {
    func testParseWriteAndTranslate() throws {
        let payload: [UInt8] = [11, 0x8A, 0x03, 0x20]  // '#', end, volume 10, duration 800
        let event = try payload.withUnsafeBytes { try TelephoneEvent(parsing: $0) }
        XCTAssertEqual(event, TelephoneEvent(event: 11, end: true, volume: 10, duration: 800))
        XCTAssertEqual(event.digit, "#")
        var written = [UInt8](repeating: 0, count: 4)
        written.withUnsafeMutableBytes { event.write(into: $0) }
        XCTAssertEqual(written, payload)
        // 100 ms at 8 kHz is 800 units; at 48 kHz 4800.
        XCTAssertEqual(event.translated(from: 8000, to: 48000).duration, 4800)
        XCTAssertEqual(TelephoneEvent(event: 1, end: false, volume: 0, duration: 4800).translated(from: 48000, to: 8000).duration, 800)
        XCTAssertEqual(TelephoneEvent(event: 1, end: false, volume: 0, duration: 20000).translated(from: 8000, to: 48000).duration, 65535,
                       "clamped rather than wrapped")
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 3).withUnsafeBytes { try TelephoneEvent(parsing: $0) })
    }

    func testDigitsMapBothWays() {
        for digit in "0123456789*#ABCD" {
            let code = TelephoneEvent.event(for: digit)!
            XCTAssertEqual(TelephoneEvent(event: code, end: false, volume: 10, duration: 0).digit, digit)
        }
        XCTAssertNil(TelephoneEvent.event(for: "x"))
        XCTAssertNil(TelephoneEvent(event: 16, end: false, volume: 0, duration: 0).digit)
    }
}

final class StreamRewriterTests: XCTestCase {
    func testOneContinuousStreamAcrossASourceChange() {
        var rewriter = StreamRewriter(ssrc: 0xAAAA, initialSequence: 1000, initialTimestamp: 50_000)
        var out: [(UInt16, UInt32)] = []
        for n in 0..<3 { out.append(rewriter.rewrite(source: 1, sequence: UInt16(7 + n), timestamp: UInt32(900 + 160 * n), gap: 160)) }
        // A re-INVITE: the far end restarts with a new SSRC, sequence and timestamp.
        for n in 0..<2 { out.append(rewriter.rewrite(source: 2, sequence: UInt16(40000 + n), timestamp: UInt32(1_000_000 + 160 * n), gap: 160)) }
        XCTAssertEqual(out.map(\.0), [1000, 1001, 1002, 1003, 1004])
        XCTAssertEqual(out.map(\.1), [50_000, 50_160, 50_320, 50_480, 50_640])
    }

    func testWrapAndReorderKeepTheirPlace() {
        var rewriter = StreamRewriter(ssrc: 1, initialSequence: 65534, initialTimestamp: UInt32.max - 159)
        let a = rewriter.rewrite(source: 9, sequence: 10, timestamp: 0, gap: 160)
        let c = rewriter.rewrite(source: 9, sequence: 12, timestamp: 320, gap: 160)
        let b = rewriter.rewrite(source: 9, sequence: 11, timestamp: 160, gap: 160)  // late
        let d = rewriter.rewrite(source: 9, sequence: 13, timestamp: 480, gap: 160)
        XCTAssertEqual([a.sequence, b.sequence, c.sequence, d.sequence], [65534, 65535, 0, 1])
        XCTAssertEqual([a.timestamp, b.timestamp, c.timestamp, d.timestamp], [UInt32.max - 159, 0, 160, 320])
    }
}
