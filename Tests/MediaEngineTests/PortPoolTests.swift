import MediaEngine
import XCTest

final class PortPoolTests: XCTestCase {
    func testHandsOutEvenPortsWithTheirOddPartnerInRange() {
        var pool = PortPool(portMin: 20001, portMax: 20010)
        XCTAssertEqual(pool.capacity, 4, "20002, 20004, 20006, 20008 (20010 has no partner)")
        var ports: [UInt16] = []
        while let port = pool.allocate() { ports.append(port) }
        XCTAssertEqual(ports, [20002, 20004, 20006, 20008])
        XCTAssertEqual(pool.available, 0)
        XCTAssertNil(pool.allocate())
    }

    func testReleasedPortsAreReusedLast() {
        var pool = PortPool(portMin: 30000, portMax: 30007)
        let first = pool.allocate()!
        let second = pool.allocate()!
        XCTAssertTrue(pool.release(first))
        XCTAssertEqual(pool.allocate(), 30004)
        XCTAssertEqual(pool.allocate(), 30006)
        XCTAssertEqual(pool.allocate(), first, "the freed port comes back only after the never-used ones")
        XCTAssertNil(pool.allocate())
        XCTAssertTrue(pool.release(second))
        XCTAssertEqual(pool.allocate(), second)
    }

    func testDoubleOrForeignReleaseChangesNothing() {
        var pool = PortPool(portMin: 40000, portMax: 40003)
        let port = pool.allocate()!
        XCTAssertTrue(pool.release(port))
        XCTAssertFalse(pool.release(port))
        XCTAssertFalse(pool.release(40002 + 100))
        XCTAssertEqual(pool.available, pool.capacity)
        var seen = Set<UInt16>()
        while let next = pool.allocate() { XCTAssertTrue(seen.insert(next).inserted, "port \(next) handed out twice") }
        XCTAssertEqual(seen, [40000, 40002])
    }
}
