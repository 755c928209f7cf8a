import Gateway
import Logging
import Synchronization
import XCTest

/// A call that records how it was ended.
final class RecordingCall: RegisteredCall {
    let id: String
    private let endReasons = Mutex<[String]>([])

    init(_ id: String) { self.id = id }

    var reasons: [String] { endReasons.withLock { $0 } }

    func end(reason: String) async { endReasons.withLock { $0.append(reason) } }
}

final class CallRegistryTests: XCTestCase {
    private let logger = Logger(label: "test")

    func testAdmitsUntilTheLimit() async {
        let registry = CallRegistry(maxCalls: 2)
        let a = await registry.admit(RecordingCall("a"))
        let b = await registry.admit(RecordingCall("b"))
        let c = await registry.admit(RecordingCall("c"))
        XCTAssertEqual(a, .admitted)
        XCTAssertEqual(b, .admitted)
        XCTAssertEqual(c, .refused(status: 503, reason: "Service Unavailable (call limit)"))
        await registry.remove(id: "a")
        let d = await registry.admit(RecordingCall("d"))
        XCTAssertEqual(d, .admitted)
        let active = await registry.activeCalls
        XCTAssertEqual(active, 2)
    }

    func testDrainWithNoCallsReturnsAtOnceAndRefusesNewCalls() async {
        let registry = CallRegistry()
        let outcome = await registry.drain(timeout: .seconds(60), logger: logger)
        XCTAssertEqual(outcome, DrainOutcome(endedNaturally: 0, endedByDeadline: 0))
        let decision = await registry.admit(RecordingCall("late"))
        XCTAssertEqual(decision, .refused(status: 503, reason: "Service Unavailable (draining)"))
        let state = await registry.state
        XCTAssertEqual(state, .draining)
    }

    func testDrainEndsWhenTheLastCallHangsUp() async {
        let registry = CallRegistry()
        let call = RecordingCall("a")
        _ = await registry.admit(call)
        let log = logger
        async let outcome = registry.drain(timeout: .seconds(60), logger: log)
        // The call ends by itself while the drain waits (a 60 s deadline is never reached).
        while await registry.state != .draining { await Task.yield() }
        await registry.remove(id: "a")
        let result = await outcome
        XCTAssertEqual(result, DrainOutcome(endedNaturally: 1, endedByDeadline: 0))
        XCTAssertEqual(call.reasons, [], "a call that hung up itself is not ended again")
    }

    func testDrainEndsTheRemainingCallsAtTheDeadline() async {
        let registry = CallRegistry()
        let stubborn = RecordingCall("stubborn")
        let polite = RecordingCall("polite")
        _ = await registry.admit(stubborn)
        _ = await registry.admit(polite)
        let log = logger
        async let outcome = registry.drain(timeout: .milliseconds(200), logger: log)
        while await registry.state != .draining { await Task.yield() }
        await registry.remove(id: "polite")
        let result = await outcome
        XCTAssertEqual(result, DrainOutcome(endedNaturally: 1, endedByDeadline: 1))
        XCTAssertEqual(stubborn.reasons, ["SIP;cause=503;text=\"Gateway shutting down\""])
        XCTAssertEqual(polite.reasons, [])
        let active = await registry.activeCalls
        XCTAssertEqual(active, 0)
    }
}
