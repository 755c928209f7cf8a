// Admission to the worker loops: calls are spread by count over the loops under the load limit,
// released calls free their place, and no loop is chosen when all are over the limit.

import MediaEngine
import NIOPosix
import XCTest

final class MediaWorkersTests: XCTestCase {
    func testCallsAreSpreadByCountAndRefusedOverTheLimit() async throws {
        let group = try MediaLoopGroup(threads: 2)
        let workers = MediaWorkers(group: group)
        var pinned: [Int] = []
        for _ in 0..<6 { pinned.append(try XCTUnwrap(workers.admit(maxLoad: 1)).index) }
        XCTAssertEqual(pinned.filter { $0 == 0 }.count, 3, "\(pinned)")
        XCTAssertEqual(pinned.filter { $0 == 1 }.count, 3, "\(pinned)")

        // Two calls end on loop 1: the next two calls go there.
        workers.release(1)
        workers.release(1)
        XCTAssertEqual(workers.admit(maxLoad: 1)?.index, 1)
        XCTAssertEqual(workers.admit(maxLoad: 1)?.index, 1)
        XCTAssertEqual(workers.loads.map(\.calls), [3, 3])

        // A limit no loop can be under (a share is never negative): refused, nothing counted.
        XCTAssertNil(workers.admit(maxLoad: -0.01))
        XCTAssertEqual(workers.loads.map(\.calls), [3, 3])
        workers.stop()
        await group.shutdown()
    }
}
