// TrunkMonitor driven with a fake clock and hand-built responses: the OPTIONS keep-alive schedule
// and availability, REGISTER with digest challenges (401, 407, realm mismatch, stale), 423
// Min-Expires, refresh timing, back-off after failures and timeouts, reconfiguration and removal.

import Gateway
import NIOCore
import SIP
@testable import TandemConfig
import XCTest

final class TrunkMonitorTests: XCTestCase {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    private let local = LocalEndpoint(transport: .udp, host: "192.0.2.10", port: 5060)
    private let password = "s3cret"

    private func trunk(register: Bool = false, options: Int = 30, expires: Int = 3600, realm: String? = nil, username: String = "gw1",
                       address: String = "198.51.100.7", transport: SIPTransportKind = .udp, withCredentials: Bool = true) -> Trunk {
        Trunk(name: "carrier", address: address, port: 5080, transport: transport, allowedSources: [],
              credentials: withCredentials ? TrunkCredentials(username: username, password: password, realm: realm) : nil,
              register: register, registerExpires: expires, codecProfile: "g711", mediaInterface: "", dtmf: .rfc4733,
              optionsInterval: options, maxCalls: 0, location: SourceLocation(file: "", line: 0, key: "trunks"))
    }

    private func at(_ seconds: Int64) -> NIODeadline { start + .seconds(seconds) }

    private func cseq(_ request: SIPRequest) -> UInt32 { (try? request.headers.cseq().number) ?? 0 }
    private func callID(_ request: SIPRequest) -> String { (try? request.headers.callID()) ?? "" }
    private func branch(_ request: SIPRequest) -> String? { (try? request.headers.topVia())?.branch }

    private func single(_ requests: [SIPRequest], _ method: SIPMethod, file: StaticString = #filePath, line: UInt = #line) throws -> SIPRequest {
        XCTAssertEqual(requests.map(\.method), [method], file: file, line: line)
        return try XCTUnwrap(requests.first, file: file, line: line)
    }

    private func challenge(_ request: SIPRequest, _ server: DigestServer, now: NIODeadline, proxy: Bool = false, stale: Bool = false) -> SIPResponse {
        var response = request.makeResponse(proxy ? 407 : 401, toTag: "srv")
        for challenge in server.challenges(now: now, stale: stale) {
            response.headers.add(proxy ? "Proxy-Authenticate" : "WWW-Authenticate", challenge.headerValue)
        }
        return response
    }

    private func verify(_ request: SIPRequest, header: String, with server: DigestServer, now: NIODeadline,
                        file: StaticString = #filePath, line: UInt = #line) throws {
        let value = try XCTUnwrap(request.headers[header], "no \(header)", file: file, line: line)
        let credentials = try DigestCredentials(parsing: value)
        XCTAssertEqual(credentials.username, "gw1", file: file, line: line)
        XCTAssertEqual(credentials.uri, request.uri.description, file: file, line: line)
        XCTAssertEqual(server.verify(credentials, method: "REGISTER", password: password, now: now), .valid, file: file, line: line)
    }

    /// REGISTER at `now`, 401, authenticated REGISTER, 200 with `contactExpires`; the monitor is registered afterwards.
    private func register(_ monitor: inout TrunkMonitor, now: NIODeadline, contactExpires: Int = 600) throws -> SIPRequest {
        let server = DigestServer(realm: "carrier.example")
        let first = try single(monitor.timeout(now: now), .register)
        let second = try single(monitor.receive(challenge(first, server, now: now), now: now), .register)
        try verify(second, header: "Authorization", with: server, now: now)
        var ok = second.makeResponse(200, toTag: "srv")
        ok.headers.add("Contact", "<sip:tandem@192.0.2.10:5060>;expires=\(contactExpires)")
        XCTAssertEqual(monitor.receive(ok, now: now), [])
        XCTAssertEqual(monitor.registration, .registered(until: now + .seconds(Int64(contactExpires))))
        return second
    }

    // MARK: OPTIONS keep-alive

    func testOptionsPingShape() throws {
        var monitor = TrunkMonitor(trunk: trunk(), local: local, now: start)
        XCTAssertEqual(monitor.nextDeadline, start, "the first ping goes right away")
        XCTAssertEqual(monitor.registration, .disabled)
        let ping = try single(monitor.timeout(now: start), .options)
        XCTAssertNoThrow(try ping.validate())
        XCTAssertEqual(ping.uri.description, "sip:198.51.100.7:5080")
        let from = try ping.headers.from()
        XCTAssertEqual(from.uri.description, "sip:tandem@192.0.2.10")
        XCTAssertNotNil(from.tag)
        XCTAssertEqual(ping.headers["To"], "<sip:198.51.100.7>")
        XCTAssertEqual(ping.headers["Max-Forwards"], "70")
        XCTAssertEqual(ping.headers["Contact"], "<sip:tandem@192.0.2.10:5060>")
        XCTAssertEqual(try ping.headers.cseq(), SIPCSeq(number: 1, method: .options))
        let via = try ping.headers.topVia()
        XCTAssertEqual(via.transport, "UDP")
        XCTAssertTrue(via.branch?.hasPrefix("z9hG4bK") ?? false)
        XCTAssertTrue(via.parameters.contains("rport"))
        XCTAssertNil(ping.headers["User-Agent"])
        XCTAssertTrue(monitor.owns(callID: callID(ping)))
        XCTAssertFalse(monitor.owns(callID: "someone-else@example.net"))

        var tcp = TrunkMonitor(trunk: trunk(transport: .tcp), local: LocalEndpoint(transport: .tcp, host: "192.0.2.10", port: 5060), now: start)
        XCTAssertEqual(try single(tcp.timeout(now: start), .options).uri.description, "sip:198.51.100.7:5080;transport=tcp")
        var v6 = TrunkMonitor(trunk: trunk(address: "2001:db8::7", transport: .tls), local: local, now: start)
        let tlsPing = try single(v6.timeout(now: start), .options)
        XCTAssertEqual(tlsPing.uri.description, "sip:[2001:db8::7]:5080;transport=tls")
        XCTAssertEqual(tlsPing.headers["To"], "<sip:[2001:db8::7]>")
    }

    func testOptionsScheduleAndAvailability() throws {
        var monitor = TrunkMonitor(trunk: trunk(options: 30), local: local, now: start)
        XCTAssertEqual(monitor.availability, .unknown)
        let first = try single(monitor.timeout(now: start), .options)
        XCTAssertEqual(monitor.nextDeadline, at(5), "the answer is due within 5 s")

        // Provisional responses say nothing; any final one, even 405, means up.
        XCTAssertEqual(monitor.receive(first.makeResponse(100), now: at(1)), [])
        XCTAssertEqual(monitor.availability, .unknown)
        XCTAssertEqual(monitor.receive(first.makeResponse(405, toTag: "t"), now: at(1)), [])
        XCTAssertEqual(monitor.availability, .up)
        XCTAssertEqual(monitor.lastChange?.from, .unknown)
        XCTAssertEqual(monitor.lastChange?.to, .up)
        XCTAssertEqual(monitor.lastChange?.at, at(1))
        XCTAssertEqual(monitor.nextDeadline, at(30))
        XCTAssertEqual(monitor.timeout(now: at(10)), [], "nothing due before the interval")

        // Same Call-ID, next CSeq, new branch.
        let second = try single(monitor.timeout(now: at(30)), .options)
        XCTAssertEqual(callID(second), callID(first))
        XCTAssertEqual(cseq(second), 2)
        XCTAssertNotEqual(branch(second), branch(first))
        XCTAssertEqual(monitor.nextDeadline, at(35))

        monitor.timedOut(callID: callID(second), cseq: 2, now: at(62))
        XCTAssertEqual(monitor.availability, .down)
        XCTAssertEqual(monitor.lastChange?.reason, "OPTIONS timed out")

        // A late call keeps the schedule when it can.
        let third = try single(monitor.timeout(now: at(61)), .options)
        XCTAssertEqual(monitor.nextDeadline, at(66))
        XCTAssertEqual(monitor.receive(third.makeResponse(200, toTag: "t"), now: at(62)), [])
        XCTAssertEqual(monitor.availability, .up)
        XCTAssertEqual(monitor.nextDeadline, at(90))

        // An older ping timing out after a newer one was answered changes nothing.
        let fourth = try single(monitor.timeout(now: at(90)), .options)
        let fifth = try single(monitor.timeout(now: at(120)), .options)
        _ = monitor.receive(fifth.makeResponse(501, toTag: "t"), now: at(121))
        monitor.timedOut(callID: callID(fourth), cseq: cseq(fourth), now: at(122))
        XCTAssertEqual(monitor.availability, .up)

        // Responses from elsewhere are ignored.
        var foreign = fifth.makeResponse(200, toTag: "t")
        foreign.headers.set("Call-ID", "other@example.net")
        monitor.timedOut(callID: "other@example.net", cseq: 5, now: at(123))
        XCTAssertEqual(monitor.receive(foreign, now: at(123)), [])
        XCTAssertEqual(monitor.availability, .up)
    }

    /// A trunk that stops answering is down once a ping goes unanswered for its interval (5 s at
    /// most), long before Timer F; the first answer after that brings it back.
    func testAnUnansweredPingMarksTheTrunkDownWithinSecondsAndAnAnswerBringsItBack() throws {
        var monitor = TrunkMonitor(trunk: trunk(options: 2), local: local, now: start)
        let first = try single(monitor.timeout(now: start), .options)
        _ = monitor.receive(first.makeResponse(200, toTag: "t"), now: at(0))
        XCTAssertEqual(monitor.availability, .up)
        _ = try single(monitor.timeout(now: at(2)), .options)
        XCTAssertEqual(monitor.nextDeadline, at(4), "answer due within the 2 s interval")
        let third = try single(monitor.timeout(now: at(4)), .options)
        XCTAssertEqual(monitor.availability, .down)
        XCTAssertEqual(monitor.lastChange?.reason, "OPTIONS unanswered for 2 s")
        XCTAssertEqual(monitor.lastChange?.at, at(4))
        XCTAssertEqual(monitor.nextDeadline, at(6))
        _ = monitor.receive(third.makeResponse(200, toTag: "t"), now: at(5))
        XCTAssertEqual(monitor.availability, .up)
        XCTAssertEqual(monitor.lastChange?.reason, "200 OK to OPTIONS")

        var slow = TrunkMonitor(trunk: trunk(options: 60), local: local, now: start)
        _ = try single(slow.timeout(now: start), .options)
        XCTAssertEqual(slow.nextDeadline, at(5), "never more than 5 s")
    }

    func testOptionsOffWhenIntervalIsZero() {
        var monitor = TrunkMonitor(trunk: trunk(options: 0), local: local, now: start)
        XCTAssertNil(monitor.nextDeadline)
        XCTAssertEqual(monitor.timeout(now: at(3600)), [])
        XCTAssertEqual(monitor.availability, .unknown)
        XCTAssertEqual(monitor.registration, .disabled)
    }

    // MARK: Registration

    func testRegisterWithDigestAndRefresh() throws {
        var monitor = TrunkMonitor(trunk: trunk(register: true, options: 0), local: local, now: start)
        XCTAssertEqual(monitor.registration, .pending)
        XCTAssertEqual(monitor.nextDeadline, start)
        let server = DigestServer(realm: "carrier.example")

        let first = try single(monitor.timeout(now: start), .register)
        XCTAssertNoThrow(try first.validate())
        XCTAssertEqual(first.uri.description, "sip:198.51.100.7")
        XCTAssertEqual(try first.headers.to().uri.description, "sip:gw1@198.51.100.7")
        XCTAssertEqual(try first.headers.from().uri.description, "sip:gw1@198.51.100.7")
        XCTAssertEqual(first.headers["Contact"], "<sip:tandem@192.0.2.10:5060>")
        XCTAssertEqual(first.headers["Expires"], "3600")
        XCTAssertEqual(first.headers["Max-Forwards"], "70")
        XCTAssertNil(first.headers["Authorization"])
        XCTAssertEqual(cseq(first), 1)
        XCTAssertTrue(monitor.owns(callID: callID(first)))
        XCTAssertEqual(monitor.nextDeadline, start + TrunkMonitor.registerGiveUp, "only the safety net while waiting")

        XCTAssertEqual(monitor.receive(first.makeResponse(100), now: at(1)), [])
        let second = try single(monitor.receive(challenge(first, server, now: at(1)), now: at(1)), .register)
        XCTAssertEqual(cseq(second), 2)
        XCTAssertEqual(callID(second), callID(first))
        XCTAssertNotEqual(branch(second), branch(first))
        XCTAssertEqual(try second.headers.from().tag, try first.headers.from().tag)
        try verify(second, header: "Authorization", with: server, now: at(1))
        XCTAssertEqual(monitor.registration, .pending)

        // The expiry of our contact wins over the Expires header; refresh at 80 %.
        var ok = second.makeResponse(200, toTag: "srv")
        ok.headers.add("Contact", "<sip:someone-else@203.0.113.9>;expires=3000")
        ok.headers.add("Contact", "<sip:tandem@192.0.2.10:5060>;expires=600")
        ok.headers.add("Expires", "3600")
        XCTAssertEqual(monitor.receive(ok, now: at(2)), [])
        XCTAssertEqual(monitor.registration, .registered(until: at(602)))
        XCTAssertEqual(monitor.nextDeadline, at(2 + 480))
        XCTAssertEqual(monitor.timeout(now: at(400)), [])

        // The refresh: same Call-ID, CSeq going on, challenged afresh.
        let refresh = try single(monitor.timeout(now: at(482)), .register)
        XCTAssertEqual(callID(refresh), callID(first))
        XCTAssertEqual(cseq(refresh), 3)
        XCTAssertEqual(monitor.registration, .registered(until: at(602)), "still registered while refreshing")
        let refreshAuth = try single(monitor.receive(challenge(refresh, server, now: at(482)), now: at(482)), .register)
        try verify(refreshAuth, header: "Authorization", with: server, now: at(482))
        XCTAssertEqual(cseq(refreshAuth), 4)

        // Only an Expires header: a short grant is refreshed 5 s before it runs out.
        var short = refreshAuth.makeResponse(200, toTag: "srv")
        short.headers.add("Expires", "20")
        _ = monitor.receive(short, now: at(483))
        XCTAssertEqual(monitor.registration, .registered(until: at(503)))
        XCTAssertEqual(monitor.nextDeadline, at(483 + 15))

        // Neither: what was asked for.
        let third = try single(monitor.timeout(now: at(498)), .register)
        _ = monitor.receive(third.makeResponse(200, toTag: "srv"), now: at(498))
        XCTAssertEqual(monitor.registration, .registered(until: at(498 + 3600)))
        XCTAssertEqual(monitor.nextDeadline, at(498 + 2880))
    }

    func testRefusedCredentialsFailAndStaleNonceIsAnsweredAgain() throws {
        let server = DigestServer(realm: "carrier.example")
        var monitor = TrunkMonitor(trunk: trunk(register: true, options: 0), local: local, now: start)
        let first = try single(monitor.timeout(now: start), .register)
        let second = try single(monitor.receive(challenge(first, server, now: start), now: start), .register)

        // Stale: answered with the new nonce.
        let third = try single(monitor.receive(challenge(second, server, now: at(1), stale: true), now: at(1)), .register)
        try verify(third, header: "Authorization", with: server, now: at(1))
        XCTAssertEqual(cseq(third), 3)

        // Not stale: the password is wrong; no more answers until the back-off.
        XCTAssertEqual(monitor.receive(challenge(third, server, now: at(2)), now: at(2)), [])
        guard case .failed(401, let reason) = monitor.registration else { return XCTFail("\(monitor.registration)") }
        XCTAssertTrue(reason.contains("credentials refused"), reason)
        XCTAssertEqual(monitor.nextDeadline, at(2 + 30))
    }

    func testProxyChallengeIsAnsweredWithProxyAuthorization() throws {
        let proxy = DigestServer(realm: "proxy.example")
        let registrar = DigestServer(realm: "carrier.example")
        var monitor = TrunkMonitor(trunk: trunk(register: true, options: 0), local: local, now: start)
        let first = try single(monitor.timeout(now: start), .register)
        let second = try single(monitor.receive(challenge(first, proxy, now: start, proxy: true), now: start), .register)
        try verify(second, header: "Proxy-Authorization", with: proxy, now: start)
        XCTAssertNil(second.headers["Authorization"])

        // Then the registrar challenges too: both answered.
        let third = try single(monitor.receive(challenge(second, registrar, now: start), now: start), .register)
        try verify(third, header: "Proxy-Authorization", with: proxy, now: start)
        try verify(third, header: "Authorization", with: registrar, now: start)
        _ = monitor.receive(third.makeResponse(200, toTag: "srv"), now: start)
        XCTAssertEqual(monitor.registration, .registered(until: at(3600)))
    }

    func testChallengeForAnotherRealmFails() throws {
        var monitor = TrunkMonitor(trunk: trunk(register: true, options: 0, realm: "carrier.example"), local: local, now: start)
        let first = try single(monitor.timeout(now: start), .register)
        XCTAssertEqual(monitor.receive(challenge(first, DigestServer(realm: "elsewhere.example"), now: start), now: start), [])
        guard case .failed(401, let reason) = monitor.registration else { return XCTFail("\(monitor.registration)") }
        XCTAssertTrue(reason.contains("elsewhere.example") && reason.contains("carrier.example"), reason)
        XCTAssertEqual(monitor.nextDeadline, at(30))

        // The configured realm is answered.
        let server = DigestServer(realm: "carrier.example")
        let retry = try single(monitor.timeout(now: at(30)), .register)
        let answered = try single(monitor.receive(challenge(retry, server, now: at(30)), now: at(30)), .register)
        try verify(answered, header: "Authorization", with: server, now: at(30))
    }

    func testChallengeWithoutCredentialsFails() throws {
        var monitor = TrunkMonitor(trunk: trunk(register: true, options: 0, withCredentials: false), local: local, now: start)
        let first = try single(monitor.timeout(now: start), .register)
        XCTAssertEqual(try first.headers.to().uri.description, "sip:tandem@198.51.100.7")
        XCTAssertEqual(monitor.receive(challenge(first, DigestServer(realm: "x"), now: start), now: start), [])
        guard case .failed(401, _) = monitor.registration else { return XCTFail("\(monitor.registration)") }
    }

    func testIntervalTooBriefUsesMinExpires() throws {
        let server = DigestServer(realm: "carrier.example")
        var monitor = TrunkMonitor(trunk: trunk(register: true, options: 0, expires: 300), local: local, now: start)
        let first = try single(monitor.timeout(now: start), .register)
        let second = try single(monitor.receive(challenge(first, server, now: start), now: start), .register)
        var brief = second.makeResponse(423, toTag: "srv")
        brief.headers.add("Min-Expires", "1800")
        let third = try single(monitor.receive(brief, now: start), .register)
        XCTAssertEqual(third.headers["Expires"], "1800")
        XCTAssertEqual(cseq(third), 3)
        try verify(third, header: "Authorization", with: server, now: start)
        _ = monitor.receive(third.makeResponse(200, toTag: "srv"), now: start)
        XCTAssertEqual(monitor.registration, .registered(until: at(1800)))
        let refresh = try single(monitor.timeout(now: at(1440)), .register)
        XCTAssertEqual(refresh.headers["Expires"], "1800", "Min-Expires is remembered")

        // A 423 without a larger Min-Expires cannot be acted on.
        XCTAssertEqual(monitor.receive(refresh.makeResponse(423, toTag: "srv"), now: at(1441)), [])
        guard case .failed(423, _) = monitor.registration else { return XCTFail("\(monitor.registration)") }
    }

    func testBackoffAfterFailuresAndTimeouts() throws {
        var monitor = TrunkMonitor(trunk: trunk(register: true, options: 0), local: local, now: start)
        var now = start
        var expectedDelays: [Int64] = []
        var delays: [Int64] = []
        for round in 0..<7 {
            let request = try single(monitor.timeout(now: now), .register)
            if round.isMultiple(of: 2) {
                _ = monitor.receive(request.makeResponse(503, toTag: "srv"), now: now)
                XCTAssertEqual(monitor.registration, .failed(status: 503, reason: "Service Unavailable"))
            } else {
                monitor.timedOut(callID: callID(request), cseq: cseq(request), now: now)
                guard case .failed(408, _) = monitor.registration else { return XCTFail("\(monitor.registration)") }
            }
            let next = try XCTUnwrap(monitor.nextDeadline)
            delays.append((next - now).nanoseconds / 1_000_000_000)
            expectedDelays.append(min(30 << Int64(round), 600))
            XCTAssertEqual(monitor.timeout(now: next - .seconds(1)), [])
            now = next
        }
        XCTAssertEqual(delays, expectedDelays)

        // Success resets the back-off; Retry-After stretches it.
        let request = try single(monitor.timeout(now: now), .register)
        _ = monitor.receive(request.makeResponse(200, toTag: "srv"), now: now)
        now = now + .seconds(2880)
        let refresh = try single(monitor.timeout(now: now), .register)
        var unavailable = refresh.makeResponse(503, toTag: "srv")
        unavailable.headers.add("Retry-After", "300 (maintenance)")
        _ = monitor.receive(unavailable, now: now)
        XCTAssertEqual(monitor.nextDeadline, now + .seconds(300))
        let retry = try single(monitor.timeout(now: now + .seconds(300)), .register)
        _ = monitor.receive(retry.makeResponse(403, toTag: "srv"), now: now + .seconds(300))
        XCTAssertEqual(monitor.registration, .failed(status: 403, reason: "Forbidden"))
        XCTAssertEqual(monitor.nextDeadline, now + .seconds(300 + 60))
    }

    func testUnansweredRegisterIsGivenUp() throws {
        var monitor = TrunkMonitor(trunk: trunk(register: true, options: 0), local: local, now: start)
        let first = try single(monitor.timeout(now: start), .register)
        XCTAssertEqual(monitor.timeout(now: start + TrunkMonitor.registerGiveUp), [])
        guard case .failed(408, _) = monitor.registration else { return XCTFail("\(monitor.registration)") }
        // A response that comes after all is ignored.
        _ = monitor.receive(first.makeResponse(200, toTag: "srv"), now: at(121))
        guard case .failed = monitor.registration else { return XCTFail("\(monitor.registration)") }
    }

    // MARK: Reconfiguration and shutdown

    func testReconfigureKeepsOrResetsState() throws {
        var config = trunk(register: true, options: 30)
        var monitor = TrunkMonitor(trunk: config, local: local, now: start)
        let server = DigestServer(realm: "carrier.example")
        let initial = monitor.timeout(now: start)
        XCTAssertEqual(initial.map(\.method), [.options, .register])
        _ = monitor.receive(initial[0].makeResponse(200, toTag: "t"), now: start)
        XCTAssertEqual(monitor.availability, .up)
        let registered = try single(monitor.receive(challenge(initial[1], server, now: start), now: start), .register)
        var ok = registered.makeResponse(200, toTag: "srv")
        ok.headers.add("Contact", "<sip:tandem@192.0.2.10:5060>;expires=600")
        _ = monitor.receive(ok, now: start)
        XCTAssertEqual(monitor.registration, .registered(until: at(600)))
        let registerCallID = callID(registered)

        // Interval and expiry changes keep availability and registration.
        config.optionsInterval = 60
        config.registerExpires = 600
        monitor.reconfigure(config, now: at(10))
        XCTAssertEqual(monitor.registration, .registered(until: at(600)))
        XCTAssertEqual(monitor.availability, .up)
        XCTAssertEqual(monitor.nextDeadline, at(60), "next ping one new interval after the last")
        let pings = monitor.timeout(now: at(60))
        XCTAssertEqual(pings.map(\.method), [.options])
        _ = monitor.receive(pings[0].makeResponse(200, toTag: "t"), now: at(60))
        let due = monitor.timeout(now: at(480))
        for ping in due where ping.method == .options { _ = monitor.receive(ping.makeResponse(200, toTag: "t"), now: at(480)) }
        let refresh = try single(due.filter { $0.method == .register }, .register)
        XCTAssertEqual(refresh.headers["Expires"], "600")
        XCTAssertEqual(callID(refresh), registerCallID)

        // New credentials: a new registration right away, with a new Call-ID.
        config.credentials?.password = "rotated"
        monitor.reconfigure(config, now: at(500))
        XCTAssertEqual(monitor.registration, .pending)
        XCTAssertFalse(monitor.owns(callID: registerCallID))
        XCTAssertEqual(monitor.nextDeadline, at(500))
        let again = try single(monitor.timeout(now: at(500)), .register)
        XCTAssertEqual(cseq(again), 1)

        // A new address starts over: availability unknown, pinged at once.
        _ = monitor.receive(pings[0].makeResponse(200, toTag: "t"), now: at(501))
        XCTAssertEqual(monitor.availability, .up)
        config.address = "198.51.100.8"
        monitor.reconfigure(config, now: at(502))
        XCTAssertEqual(monitor.availability, .unknown)
        XCTAssertEqual(monitor.lastChange?.to, .unknown)
        XCTAssertFalse(monitor.owns(callID: callID(pings[0])))
        let moved = monitor.timeout(now: at(502))
        XCTAssertEqual(Set(moved.map(\.method)), [.options, .register])
        XCTAssertEqual(moved.first { $0.method == .register }?.uri.description, "sip:198.51.100.8")

        // Keep-alive off: availability unknown, no pings.
        config.optionsInterval = 0
        monitor.reconfigure(config, now: at(503))
        XCTAssertEqual(monitor.availability, .unknown)
        XCTAssertTrue(monitor.timeout(now: at(600)).allSatisfy { $0.method != .options })
    }

    func testTurningRegistrationOffRemovesTheBinding() throws {
        var config = trunk(register: true, options: 0)
        var monitor = TrunkMonitor(trunk: config, local: local, now: start)
        _ = try register(&monitor, now: start)
        config.register = false
        monitor.reconfigure(config, now: at(10))
        XCTAssertEqual(monitor.nextDeadline, at(10))
        let removal = try single(monitor.timeout(now: at(10)), .register)
        XCTAssertEqual(removal.headers["Expires"], "0")
        _ = monitor.receive(removal.makeResponse(200, toTag: "srv"), now: at(11))
        XCTAssertEqual(monitor.registration, .disabled)
        XCTAssertNil(monitor.nextDeadline)

        // And back on.
        config.register = true
        monitor.reconfigure(config, now: at(20))
        XCTAssertEqual(monitor.registration, .pending)
        XCTAssertEqual(try single(monitor.timeout(now: at(20)), .register).headers["Expires"], "3600")
    }

    func testUnregister() throws {
        let server = DigestServer(realm: "carrier.example")
        var monitor = TrunkMonitor(trunk: trunk(register: true, options: 0), local: local, now: start)
        let last = try register(&monitor, now: start)
        let removal = try single(monitor.unregister(now: at(100)), .register)
        XCTAssertEqual(removal.headers["Expires"], "0")
        XCTAssertEqual(removal.headers["Contact"], "<sip:tandem@192.0.2.10:5060>")
        XCTAssertEqual(callID(removal), callID(last))
        XCTAssertEqual(cseq(removal), cseq(last) + 1)

        let answered = try single(monitor.receive(challenge(removal, server, now: at(100)), now: at(100)), .register)
        XCTAssertEqual(answered.headers["Expires"], "0")
        try verify(answered, header: "Authorization", with: server, now: at(100))
        _ = monitor.receive(answered.makeResponse(200, toTag: "srv"), now: at(101))
        XCTAssertEqual(monitor.registration, .disabled)
        XCTAssertNil(monitor.nextDeadline, "no refresh after removal")
        XCTAssertEqual(monitor.timeout(now: at(5000)), [])

        // Never registered: nothing to remove.
        var idle = TrunkMonitor(trunk: trunk(register: true, options: 0), local: local, now: start)
        XCTAssertEqual(idle.unregister(now: start), [])
        XCTAssertEqual(idle.registration, .disabled)
        var unregistered = TrunkMonitor(trunk: trunk(register: false), local: local, now: start)
        XCTAssertEqual(unregistered.unregister(now: start), [])
    }
}
