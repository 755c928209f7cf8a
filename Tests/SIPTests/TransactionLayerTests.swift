import NIOCore
import SIP
import XCTest

/// Two transaction layers wired in memory under a fake clock: "alice" (client side) and "bob"
/// (server side), with a network that can drop messages.
final class TransactionLayerTests: XCTestCase {
    typealias Layer = TransactionLayer<String>

    struct Network {
        var alice = Layer()
        var bob = Layer()
        var now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        /// Messages each side transmitted, in order.
        var sentByAlice: [SIPMessage] = []
        var sentByBob: [SIPMessage] = []
        /// Events for each transaction user.
        var aliceEvents: [TransactionEvent<String>] = []
        var bobEvents: [TransactionEvent<String>] = []
        /// Drop this many of the next transmissions from each side.
        var dropFromAlice = 0
        var dropFromBob = 0
        var reliable = false

        mutating func handle(_ events: [TransactionEvent<String>], from side: String) {
            for event in events {
                if case .send(let message, _) = event {
                    if side == "alice" {
                        sentByAlice.append(message)
                        if dropFromAlice > 0 { dropFromAlice -= 1; continue }
                        handle(bob.receive(message, from: "alice", reliable: reliable, now: now), from: "bob")
                    } else {
                        sentByBob.append(message)
                        if dropFromBob > 0 { dropFromBob -= 1; continue }
                        handle(alice.receive(message, from: "bob", reliable: reliable, now: now), from: "alice")
                    }
                } else if side == "alice" {
                    aliceEvents.append(event)
                } else {
                    bobEvents.append(event)
                }
            }
        }

        /// Advances the clock to `seconds` after the start, firing timers in order on the way.
        mutating func advance(to seconds: Double) {
            let target = NIODeadline.uptimeNanoseconds(1_000_000_000_000) + .nanoseconds(Int64(seconds * 1e9))
            while true {
                let next = [alice.nextDeadline, bob.nextDeadline].compactMap { $0 }.min()
                guard let next, next <= target else { break }
                now = next
                handle(alice.timeout(now: now), from: "alice")
                handle(bob.timeout(now: now), from: "bob")
            }
            now = target
        }

        mutating func aliceSends(_ request: SIPRequest) -> TransactionID {
            let (id, events) = try! alice.send(request, to: "bob", reliable: reliable, now: now)
            handle(events, from: "alice")
            return id
        }

        var bobRequests: [(SIPRequest, TransactionID)] {
            bobEvents.compactMap { if case .request(let r, let id, _) = $0 { return (r, id) } else { return nil } }
        }

        var aliceResponses: [Int] {
            aliceEvents.compactMap { if case .response(let r, _) = $0 { return r.statusCode } else { return nil } }
        }

        mutating func bobResponds(_ code: Int, to id: TransactionID) {
            let request = bob.request(of: id)!
            handle(bob.respond(to: id, with: request.makeResponse(code, toTag: "bobtag"), now: now), from: "bob")
        }
    }

    static func request(_ method: SIPMethod, branch: String = Layer.newBranch()) -> SIPRequest {
        var headers = SIPHeaders()
        headers.add("Via", SIPVia(transport: "UDP", host: "alice.example.com", port: 5060, branch: branch).description)
        headers.add("Max-Forwards", "70")
        headers.add("From", "<sip:alice@example.com>;tag=a1")
        headers.add("To", "<sip:bob@example.com>")
        headers.add("Call-ID", "call-1")
        headers.add("CSeq", "1 \(method)")
        return SIPRequest(method: method, uri: try! SIPURI(parsing: "sip:bob@example.com"), headers: headers)
    }

    func testOptionsAnsweredOverUDP() {
        var net = Network()
        let id = net.aliceSends(Self.request(.options))
        XCTAssertEqual(net.bobRequests.count, 1)
        net.bobResponds(200, to: net.bobRequests[0].1)
        XCTAssertEqual(net.aliceResponses, [200])
        XCTAssertEqual(net.alice.count, 1, "the client waits in Completed for Timer K")
        net.advance(to: 5.0)
        XCTAssertEqual(net.alice.count, 0, "Timer K (T4) ended the client transaction")
        XCTAssertTrue(net.aliceEvents.contains { if case .terminated(id) = $0 { return true } else { return false } })
        XCTAssertEqual(net.bob.count, 1, "the server keeps answering retransmissions until Timer J")
        net.advance(to: 32.0)
        XCTAssertEqual(net.bob.count, 0)
        XCTAssertEqual(net.sentByAlice.count, 1, "nothing was retransmitted")
    }

    func testLostRequestIsRetransmittedAtT1Then2T1() {
        var net = Network()
        net.dropFromAlice = 2
        _ = net.aliceSends(Self.request(.options))
        XCTAssertEqual(net.bobRequests.count, 0)
        net.advance(to: 0.49)
        XCTAssertEqual(net.sentByAlice.count, 1)
        net.advance(to: 0.5)
        XCTAssertEqual(net.sentByAlice.count, 2, "Timer E at T1")
        net.advance(to: 1.49)
        XCTAssertEqual(net.sentByAlice.count, 2)
        net.advance(to: 1.5)
        XCTAssertEqual(net.sentByAlice.count, 3, "then 2*T1 later")
        XCTAssertEqual(net.bobRequests.count, 1, "the third copy got through")
        net.bobResponds(200, to: net.bobRequests[0].1)
        XCTAssertEqual(net.aliceResponses, [200])
        net.advance(to: 10)
        XCTAssertEqual(net.sentByAlice.count, 3, "no retransmission after the final response")
    }

    func testNonInviteTimesOutWithTimerF() {
        var net = Network()
        net.dropFromAlice = 1000
        let id = net.aliceSends(Self.request(.options))
        net.advance(to: 31.9)
        XCTAssertFalse(net.aliceEvents.contains { if case .timedOut = $0 { return true } else { return false } })
        net.advance(to: 32)
        XCTAssertTrue(net.aliceEvents.contains { if case .timedOut(id) = $0 { return true } else { return false } })
        // Sent at 0, 0.5, 1.5, 3.5, 7.5, then every T2 (4 s): 11.5 … 31.5.
        XCTAssertEqual(net.sentByAlice.count, 11)
        XCTAssertEqual(net.alice.count, 0)
    }

    func testInviteRejectedIsAcknowledgedByTheTransaction() throws {
        var net = Network()
        let invite = Self.request(.invite)
        _ = net.aliceSends(invite)
        XCTAssertEqual(net.aliceResponses, [100], "100 Trying at once")
        let serverID = net.bobRequests[0].1
        net.bobResponds(486, to: serverID)
        XCTAssertEqual(net.aliceResponses, [100, 486])
        guard case .request(let ack) = net.sentByAlice.last else { return XCTFail("no ACK") }
        XCTAssertEqual(ack.method, .ack)
        XCTAssertEqual(try ack.headers.topVia().branch, try invite.headers.topVia().branch, "same branch as the INVITE")
        XCTAssertEqual(try ack.headers.to().tag, "bobtag", "To from the response")
        XCTAssertEqual(try ack.headers.cseq(), SIPCSeq(number: 1, method: .ack))
        XCTAssertEqual(net.bobEvents.filter { if case .ack = $0 { return true } else { return false } }.count, 0,
                       "the ACK for a non-2xx stays inside the transaction")
        net.advance(to: 40)
        XCTAssertEqual(net.alice.count, 0)
        XCTAssertEqual(net.bob.count, 0)
        XCTAssertFalse(net.bobEvents.contains { if case .ackNotReceived = $0 { return true } else { return false } })
    }

    func testLostFinalResponseIsRetransmittedAndAcknowledgedAgain() {
        var net = Network()
        _ = net.aliceSends(Self.request(.invite))
        net.dropFromBob = 1
        net.bobResponds(486, to: net.bobRequests[0].1)
        XCTAssertEqual(net.aliceResponses, [100])
        net.advance(to: 0.5)
        XCTAssertEqual(net.aliceResponses, [100, 486], "Timer G resent the 486")
        XCTAssertEqual(net.sentByBob.count, 3, "100, 486, 486")
        net.advance(to: 10)
        XCTAssertEqual(net.sentByBob.count, 3, "the ACK stopped Timer G")
    }

    func testInviteTimesOutWithTimerB() {
        var net = Network()
        net.dropFromAlice = 1000
        let id = net.aliceSends(Self.request(.invite))
        net.advance(to: 32)
        XCTAssertTrue(net.aliceEvents.contains { if case .timedOut(id) = $0 { return true } else { return false } })
        // Timer A doubles without a cap: 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5.
        XCTAssertEqual(net.sentByAlice.count, 7)
    }

    func testUnacknowledgedRejectionEndsWithTimerH() {
        var net = Network()
        _ = net.aliceSends(Self.request(.invite))
        let serverID = net.bobRequests[0].1
        net.dropFromBob = 1000
        net.bobResponds(603, to: serverID)
        net.advance(to: 32)
        XCTAssertTrue(net.bobEvents.contains { if case .ackNotReceived(serverID) = $0 { return true } else { return false } })
        XCTAssertEqual(net.bob.count, 0)
    }

    func testSuccessIsResentUntilTheDialogSeesTheACK() throws {
        var net = Network()
        _ = net.aliceSends(Self.request(.invite))
        let serverID = net.bobRequests[0].1
        net.dropFromBob = 1
        net.bobResponds(200, to: serverID)
        net.advance(to: 0.5)
        XCTAssertEqual(net.aliceResponses, [100, 200])
        // The TU acknowledges a 2xx with its own ACK (a new branch), outside the transaction.
        var ack = Self.request(.ack)
        ack.headers.set("CSeq", "1 ACK")
        net.handle(net.alice.sendStateless(.request(ack), to: "bob"), from: "alice")
        XCTAssertEqual(net.bobEvents.filter { if case .ack = $0 { return true } else { return false } }.count, 1)
        net.bob.acknowledge2xx(serverID)
        let sent = net.sentByBob.count
        net.advance(to: 20)
        XCTAssertEqual(net.sentByBob.count, sent, "no more 200s after the ACK")
        net.advance(to: 40)
        XCTAssertEqual(net.bob.count, 0)
        XCTAssertFalse(net.bobEvents.contains { if case .ackNotReceived = $0 { return true } else { return false } })
    }

    func testCancelFindsItsInvite() {
        var net = Network()
        let branch = Layer.newBranch()
        _ = net.aliceSends(Self.request(.invite, branch: branch))
        let inviteID = net.bobRequests[0].1
        var cancel = Self.request(.cancel, branch: branch)
        cancel.headers.set("CSeq", "1 CANCEL")
        _ = net.aliceSends(cancel)
        let cancels = net.bobEvents.compactMap { event -> TransactionID?? in
            if case .cancel(_, _, _, let invite) = event { return invite } else { return nil }
        }
        XCTAssertEqual(cancels, [inviteID])
    }

    func testRetransmittedRequestGetsTheLastResponse() {
        var net = Network()
        let request = Self.request(.register)
        _ = net.aliceSends(request)
        net.bobResponds(401, to: net.bobRequests[0].1)
        net.handle(net.bob.receive(.request(request), from: "alice", reliable: false, now: net.now), from: "bob")
        XCTAssertEqual(net.bobRequests.count, 1, "the retransmission is not a new request")
        XCTAssertEqual(net.sentByBob.count, 2)
    }

    func testReliableTransportsNeverRetransmit() {
        var net = Network()
        net.reliable = true
        net.dropFromAlice = 1
        let id = net.aliceSends(Self.request(.options))
        net.advance(to: 31.9)
        XCTAssertEqual(net.sentByAlice.count, 1)
        net.advance(to: 32)
        XCTAssertTrue(net.aliceEvents.contains { if case .timedOut(id) = $0 { return true } else { return false } })
        var second = Network()
        second.reliable = true
        _ = second.aliceSends(Self.request(.options))
        second.bobResponds(200, to: second.bobRequests[0].1)
        XCTAssertEqual(second.alice.count, 0, "Timer K is zero on reliable transports")
        XCTAssertEqual(second.bob.count, 0, "Timer J is zero on reliable transports")
    }

    func testResponseWithoutTransactionIsStray() {
        var layer = Layer()
        let response = Self.request(.invite).makeResponse(200, toTag: "x")
        let events = layer.receive(.response(response), from: "bob", reliable: false, now: .now())
        guard case .strayResponse(let stray, "bob") = events.first else { return XCTFail("\(events)") }
        XCTAssertEqual(stray.statusCode, 200)
    }
}
