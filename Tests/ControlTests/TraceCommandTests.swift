// The `trace` control command: on/off with filters, the state alone, clear refusals, and a
// request without the new fields still understood (the protocol grows compatibly).

import Control
import Foundation
import XCTest

/// Keeps the last change and answers with a state built from it.
actor RecordingTrace: ControlCommandHandler {
    var changes: [TraceChange?] = []
    nonisolated func status() async -> StatusReport { .sample }
    func trace(_ change: TraceChange?) async -> TraceState? {
        changes.append(change)
        return TraceState(enabled: change?.enabled ?? false, callID: change?.callID, user: change?.user, log: true,
                          hep: "127.0.0.1:9060", captureID: 2001, traced: 3, hepSent: 3)
    }
}

final class TraceCommandTests: XCTestCase {
    func testOnWithFiltersOffAndAsking() async throws {
        let handler = RecordingTrace()
        let on = await handler.respond(to: #"{"version":1,"command":"trace","argument":"on","call_id":"abc","user":"1001"}"#)
        XCTAssertTrue(on.ok, on.error ?? "")
        XCTAssertEqual(on.trace?.callID, "abc")
        XCTAssertEqual(on.message, "SIP trace on")
        let asked = await handler.respond(to: #"{"version":1,"command":"trace"}"#)
        XCTAssertTrue(asked.ok)
        XCTAssertNil(asked.message)
        let off = await handler.respond(to: #"{"version":1,"command":"trace","argument":"off"}"#)
        XCTAssertEqual(off.message, "SIP trace off")
        let changes = await handler.changes
        XCTAssertEqual(changes, [TraceChange(enabled: true, callID: "abc", user: "1001"), nil, TraceChange(enabled: false)])
    }

    func testBadTraceRequestsAreRefusedClearly() async {
        let handler = RecordingTrace()
        let maybe = await handler.respond(to: #"{"version":1,"command":"trace","argument":"maybe"}"#)
        XCTAssertEqual(maybe.error, "'trace' takes on or off, not 'maybe'")
        let filteredOff = await handler.respond(to: #"{"version":1,"command":"trace","argument":"off","user":"1001"}"#)
        XCTAssertEqual(filteredOff.error, "a call id or user filter goes with 'trace on'")
        let none = await FixedStatus(report: .sample).respond(to: #"{"version":1,"command":"trace"}"#)
        XCTAssertEqual(none.error, "this daemon has no SIP trace")
        let changes = await handler.changes
        XCTAssertEqual(changes.count, 0)
    }

    func testRequestsRoundTripAndOldRequestsStillDecode() throws {
        let request = ControlRequest(command: "trace", argument: "on", callID: "c", user: "u")
        let decoded = try ControlProtocol.decoder().decode(ControlRequest.self, from: try ControlProtocol.encoder().encode(request))
        XCTAssertEqual(decoded, request)
        let old = try ControlProtocol.decoder().decode(ControlRequest.self, from: Data(#"{"version":1,"command":"call","argument":"x"}"#.utf8))
        XCTAssertEqual(old, ControlRequest(command: "call", argument: "x"))
    }

    func testStateText() {
        let state = TraceState(enabled: true, user: "1001", log: true, hep: "127.0.0.1:9060", captureID: 2001, traced: 14, hepSent: 14)
        XCTAssertEqual(state.text, """
            SIP trace: on
            filter:    user 1001
            outputs:   log, HEP to 127.0.0.1:9060 (capture id 2001)
            traced:    14 messages; HEP sent 14, dropped 0; queue overflow 0
            """)
    }
}
