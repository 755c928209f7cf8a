import Gateway
import NIOCore
import XCTest

final class RegistrationBindingsTests: XCTestCase {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    private func binding(_ contact: String, connection: UInt64 = 1, expiresIn seconds: Int64 = 600, callID: String = "c1", cseq: UInt32 = 1) -> RegistrationBinding {
        RegistrationBinding(contact: contact, connectionID: connection, expires: start + .seconds(seconds), callID: callID, cseq: cseq)
    }

    func testBindingsExpire() {
        var table = RegistrationBindings()
        XCTAssertEqual(table.update(aor: "1001", binding: binding("sip:a@x.invalid", expiresIn: 60), limit: 5, now: start), .updated)
        XCTAssertEqual(table.update(aor: "1001", binding: binding("sip:b@x.invalid", expiresIn: 600, callID: "c2"), limit: 5, now: start), .updated)
        XCTAssertEqual(table.count, 2)
        XCTAssertEqual(table.expire(now: start + .seconds(61)), 1)
        XCTAssertEqual(table.contacts(of: "1001", now: start + .seconds(61)).map(\.contact), ["sip:b@x.invalid"])
    }

    func testRefreshReplacesAndOutOfOrderIsRefused() {
        var table = RegistrationBindings()
        _ = table.update(aor: "1001", binding: binding("sip:a@x.invalid", cseq: 5), limit: 1, now: start)
        XCTAssertEqual(table.update(aor: "1001", binding: binding("sip:a@x.invalid", cseq: 5), limit: 1, now: start), .outOfOrder)
        XCTAssertEqual(table.update(aor: "1001", binding: binding("sip:a@x.invalid", expiresIn: 900, cseq: 6), limit: 1, now: start), .updated)
        XCTAssertEqual(table.contacts(of: "1001", now: start).first?.expires, start + .seconds(900))
        XCTAssertEqual(table.update(aor: "1001", binding: binding("sip:other@x.invalid", callID: "c9"), limit: 1, now: start), .tooManyContacts(limit: 1))
    }

    func testClosedConnectionDropsItsBindingsOnly() {
        var table = RegistrationBindings()
        _ = table.update(aor: "1001", binding: binding("sip:a@x.invalid", connection: 7), limit: 5, now: start)
        _ = table.update(aor: "1002", binding: binding("sip:b@x.invalid", connection: 8), limit: 5, now: start)
        table.connectionClosed(7)
        XCTAssertEqual(table.contacts(of: "1001", now: start), [])
        XCTAssertEqual(table.contacts(of: "1002", now: start).count, 1)
        table.remove(aor: "1002", contact: "sip:b@x.invalid")
        XCTAssertEqual(table.count, 0)
    }
}
