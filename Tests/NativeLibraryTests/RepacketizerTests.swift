import AudioCodecs
import XCTest

final class RepacketizerTests: XCTestCase {
    func testTwentyMillisecondFramesBecomeThirty() {
        var repacketizer = Repacketizer<UInt8>(frameLength: 240)
        var out: [[UInt8]] = []
        var frame = [UInt8](repeating: 0, count: 240)
        for packet in 0..<6 {  // 6 x 20 ms = 120 ms = 4 x 30 ms
            let input = (0..<160).map { UInt8(truncatingIfNeeded: packet * 160 + $0) }
            input.withUnsafeBufferPointer { _ = repacketizer.push($0) }
            while frame.withUnsafeMutableBufferPointer({ repacketizer.pop(into: $0) }) { out.append(frame) }
        }
        XCTAssertEqual(out.count, 4)
        XCTAssertEqual(out.flatMap { $0 }, (0..<960).map { UInt8(truncatingIfNeeded: $0) }, "order and content kept")
        XCTAssertEqual(repacketizer.count, 0)
    }

    func testOverflowDropsTheOldestSamples() {
        var repacketizer = Repacketizer<Int16>(frameLength: 4, capacity: 8)
        let dropped = (0..<10).map { Int16($0) }.withUnsafeBufferPointer { repacketizer.push($0) }
        XCTAssertEqual(dropped, 2)
        var frame = [Int16](repeating: 0, count: 4)
        XCTAssertTrue(frame.withUnsafeMutableBufferPointer { repacketizer.pop(into: $0) })
        XCTAssertEqual(frame, [2, 3, 4, 5])
    }
}
