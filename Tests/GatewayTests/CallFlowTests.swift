// B2BUA call flows through the sans-IO core, with scripted peers: a browser on WebSocket
// connection 9 ("ws-9"), a trunk at "trunk", the media stand-in between them.

import Gateway
import MediaEngine
import NIOCore
import SIP
import TandemConfig
import XCTest

final class CallFlowTests: XCTestCase {
    private var core: SignalingCore<String>!
    private var media: MediaStandIn!
    private var now = NIODeadline.uptimeNanoseconds(50_000_000_000)
    private var trunkCredentials: TrunkCredentials?
    private let sdp = Array("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n".utf8)

    override func setUp() {
        media = MediaStandIn()
        makeCore()
    }

    private func makeCore(maxCalls: Int = 0, sessions: (any SessionManager)? = nil, optionsInterval: Int = 0, callsPerSecond: Double = 0,
                          backup: Bool = false) {
        let trunk = Trunk(
            name: "pbx", address: "192.0.2.80", port: 5080, transport: .udp,
            allowedSources: [IPNetwork(cidr: "192.0.2.80/32")!], credentials: trunkCredentials, register: false, registerExpires: 3600,
            codecProfile: "g711", mediaInterface: "default", dtmf: .rfc4733, optionsInterval: optionsInterval, maxCalls: maxCalls,
            maxCallsPerSecond: callsPerSecond, location: SourceLocation(file: "", line: 0, key: ""))
        // With `backup`, the rule tries pbx, then backup (a trunk never supervised).
        let second = Trunk(name: "backup", address: "192.0.2.81", port: 5060, allowedSources: [], optionsInterval: 0)
        let rule = DialPlanRule(name: "national", pattern: "^0(\\d{9})$", trunks: backup ? ["pbx", "backup"] : ["pbx"], rewrite: "+33$1",
                                location: SourceLocation(file: "", line: 0, key: ""))
        let routing = CallRouting<String>(
            node: "test-node", trunks: backup ? [trunk, second] : [trunk], dialPlan: [rule],
            endpoints: [.udp: LocalEndpoint(transport: .udp, host: "192.0.2.10", port: 5060),
                        .ws: LocalEndpoint(transport: .ws, host: "192.0.2.10", port: 8080)],
            trunkDestination: { $0.name == "pbx" ? "trunk" : "trunk-\($0.name)" }, connectionDestination: { "ws-\($0)" })
        core = SignalingCore(userAgent: "Tandem-test", web: WebSettings(realm: "tandem"),
                             users: [WebUser(username: "1001", password: "pw-1001")], routing: routing, sessions: sessions ?? media)
    }

    // MARK: Peers

    /// Sends a message into the core; returns what it sent, grouped by destination.
    @discardableResult
    private func deliver(_ message: SIPMessage, from peer: String, connection wsConnection: UInt64 = 9) -> [(String, SIPMessage)] {
        let (host, port, transport, connection): (String, Int, SIPTransportKind, UInt64?) =
            peer == "trunk" ? ("192.0.2.80", 5080, .udp, nil) : peer == "stranger" ? ("198.51.100.7", 5060, .udp, nil) : ("192.0.2.99", 50000, .ws, wsConnection)
        let inbound = InboundSIP(bytes: message.serialized(), replyTo: peer == "ws" ? "ws-\(wsConnection)" : peer, sourceHost: host, sourcePort: port,
                                 transport: transport, connection: connection)
        return sent(logged(core.receive(inbound, now: now)))
    }

    /// Operator log lines the core has emitted so far.
    private var logs: [OperatorLog] = []

    private func logged(_ effects: [SignalingEffect<String>]) -> [SignalingEffect<String>] {
        for case .log(let line) in effects { logs.append(line) }
        return effects
    }

    private func sent(_ effects: [SignalingEffect<String>]) -> [(String, SIPMessage)] {
        effects.compactMap { effect in
            guard case .send(let bytes, let to) = effect, let message = try? SIPParser.parse(bytes) else { return nil }
            return (to, message)
        }
    }

    private func responses(_ out: [(String, SIPMessage)], to peer: String) -> [SIPResponse] {
        out.compactMap { if $0.0 == peer, case .response(let r) = $0.1 { return r } else { return nil } }
    }

    private func requests(_ out: [(String, SIPMessage)], to peer: String) -> [SIPRequest] {
        out.compactMap { if $0.0 == peer, case .request(let r) = $0.1 { return r } else { return nil } }
    }

    private func request(_ method: SIPMethod, uri: String, from: String, to: String, callID: String = "web-call-1", cseq: UInt32 = 1,
                         transport: String = "WS", host: String = "df7jal23ls0d.invalid", body: [UInt8] = [], headers extra: [(String, String)] = []) -> SIPRequest {
        var headers = SIPHeaders()
        headers.add("Via", "SIP/2.0/\(transport) \(host);branch=\(TransactionLayer<String>.newBranch())")
        headers.add("Max-Forwards", "70")
        headers.add("From", from)
        headers.add("To", to)
        headers.add("Call-ID", callID)
        headers.add("CSeq", "\(cseq) \(method)")
        headers.add("Contact", "<sip:abc@\(host);transport=\(transport.lowercased())>")
        for (name, value) in extra { headers.add(name, value) }
        if !body.isEmpty { headers.add("Content-Type", "application/sdp") }
        return SIPRequest(method: method, uri: try! SIPURI(parsing: uri), headers: headers, body: body)
    }

    /// The browser's INVITE to `number`, answered through the digest challenge; returns the
    /// INVITE the trunk got.
    private func browserCalls(_ number: String, password: String = "pw-1001", extra: [(String, String)] = []) throws -> (invite: SIPRequest, out: [(String, SIPMessage)]) {
        let first = request(.invite, uri: "sip:\(number)@192.0.2.10", from: "\"Alice\" <sip:1001@tandem>;tag=a1", to: "<sip:\(number)@192.0.2.10>", body: sdp,
                            headers: extra)
        let challenge = deliver(.request(first), from: "ws")
        let unauthorized = try XCTUnwrap(responses(challenge, to: "ws-9").last)
        XCTAssertEqual(unauthorized.statusCode, 401)
        deliver(.request(ClientInviteTransaction.makeACK(for: first, response: unauthorized)), from: "ws")
        var client = DigestClient(username: "1001", password: password)
        let credentials = try XCTUnwrap(client.answer(headerValues: unauthorized.headers.values("WWW-Authenticate"), method: "INVITE", uri: first.uri.description))
        let second = request(.invite, uri: first.uri.description, from: "\"Alice\" <sip:1001@tandem>;tag=a1", to: "<sip:\(number)@192.0.2.10>",
                             cseq: 2, body: sdp, headers: extra + [("Authorization", credentials.headerValue)])
        let out = deliver(.request(second), from: "ws")
        return (second, out)
    }

    // MARK: What operators see

    func testRefusedAttemptsAreRecordedCountedAndLogged() throws {
        // A wrong password: the challenge is part of the attempt, the refused credentials end it.
        let (_, wrong) = try browserCalls("0123456789", password: "guess")
        XCTAssertEqual(responses(wrong, to: "ws-9").last?.statusCode, 403)
        let refusedAuth = try XCTUnwrap(logs.first { $0.message == "authentication refused" })
        XCTAssertEqual(refusedAuth.level, .notice)
        XCTAssertEqual(refusedAuth.fields["source"], "192.0.2.99")
        XCTAssertEqual(refusedAuth.fields["user"], "1001")
        XCTAssertEqual(refusedAuth.fields["reason"], "wrong_password")
        XCTAssertEqual(refusedAuth.fields["method"], "INVITE")

        // No route: 404, recorded with the status and logged at info.
        let (_, unrouted) = try browserCalls("555")
        XCTAssertEqual(responses(unrouted, to: "ws-9").last?.statusCode, 404)
        let refusal = try XCTUnwrap(logs.last { $0.message == "call refused" })
        XCTAssertEqual(refusal.level, .info)
        XCTAssertEqual(refusal.fields["status"], "404")
        XCTAssertEqual(refusal.fields["callee"], "555")
        XCTAssertEqual(refusal.fields["caller"], "1001")

        // A stranger's INVITE: 403, and its address at notice.
        let stranger = request(.invite, uri: "sip:1001@192.0.2.10", from: "<sip:x@198.51.100.7>;tag=s", to: "<sip:1001@192.0.2.10>",
                               callID: "stranger-1", transport: "UDP", host: "198.51.100.7", body: sdp)
        XCTAssertEqual(responses(deliver(.request(stranger), from: "stranger"), to: "stranger").last?.statusCode, 403)
        let source = try XCTUnwrap(logs.first { $0.message == "source refused" })
        XCTAssertEqual(source.level, .notice)
        XCTAssertEqual(source.fields["source"], "198.51.100.7")

        // Draining: 503 before any challenge.
        core.admitting = false
        let drained = request(.invite, uri: "sip:0123456789@192.0.2.10", from: "<sip:1001@tandem>;tag=a2", to: "<sip:0123456789@192.0.2.10>", body: sdp)
        XCTAssertEqual(responses(deliver(.request(drained), from: "ws"), to: "ws-9").last?.statusCode, 503)

        let records = core.takeEndedCalls()
        XCTAssertEqual(records.map(\.status), [403, 404, 403, 503])
        XCTAssertEqual(records.map(\.result), ["403", "404", "403", "503"])
        XCTAssertTrue(records.allSatisfy(\.refused))
        XCTAssertEqual(records.map(\.sipCallID), ["web-call-1", "web-call-1", "stranger-1", "web-call-1"])
        XCTAssertEqual(records[0].source, "192.0.2.99:50000")
        XCTAssertEqual(core.counters.calls, [CallResultKey(result: "403", trunk: ""): 2, CallResultKey(result: "404", trunk: ""): 1,
                                             CallResultKey(result: "503", trunk: ""): 1])
        XCTAssertEqual(core.counters.responsesSentByCode[401], 2, "every challenge")
        XCTAssertEqual(core.counters.responsesSentByCode[403], 2)
    }

    func testAnAnsweredCallIsLoggedWhenItStartsAndIsAnsweredAndCountedOnItsTrunk() throws {
        let (_, out) = try browserCalls("0123456789")
        let toTrunk = try XCTUnwrap(requests(out, to: "trunk").first)
        let started = try XCTUnwrap(logs.first { $0.message == "call started" })
        XCTAssertEqual(started.level, .info)
        XCTAssertEqual(started.fields["caller"], "1001")
        XCTAssertEqual(started.fields["callee"], "0123456789")
        XCTAssertEqual(started.fields["trunk"], "pbx")
        XCTAssertEqual(started.fields["route"], "national")
        XCTAssertEqual(started.fields["source"], "192.0.2.99")
        XCTAssertEqual(started.fields["destination"], "sip:+33123456789@192.0.2.80:5080")
        var ok = toTrunk.makeResponse(200, toTag: "pbx1")
        ok.headers.add("Contact", "<sip:pbx@192.0.2.80:5080>")
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = sdp
        deliver(.response(ok), from: "trunk")
        XCTAssertEqual(logs.last?.message, "call answered")
        XCTAssertEqual(logs.last?.fields["call"], started.fields["call"])
        _ = core.hangUp(try XCTUnwrap(started.fields["call"]), now: now)
        let record = try XCTUnwrap(core.takeEndedCalls().first)
        XCTAssertEqual(record.status, 200)
        XCTAssertEqual(record.result, "answered")
        XCTAssertEqual(record.route, "national")
        XCTAssertEqual(core.counters.calls, [CallResultKey(result: "answered", trunk: "pbx"): 1])
        XCTAssertEqual(core.counters.responsesByCode[200], 1)
        XCTAssertEqual(core.counters.responsesSentByCode[200], 1)
    }

    /// Brings the supervised trunk down: its OPTIONS goes unanswered for 5 s.
    private func pbxGoesDown() {
        _ = core.timeout(now: now)
        _ = core.timeout(now: now)
        now = now + .seconds(5)
        _ = logged(core.timeout(now: now))
        XCTAssertEqual(core.trunkList.first { $0.name == "pbx" }?.availability, "down")
    }

    func testACallToATrunkThatIsDownGets503AtOnce() throws {
        makeCore(optionsInterval: 30)
        pbxGoesDown()
        let change = try XCTUnwrap(logs.first { $0.message == "trunk down" })
        XCTAssertEqual(change.level, .notice)
        XCTAssertEqual(change.fields["trunk"], "pbx")
        let (_, out) = try browserCalls("0123456789")
        XCTAssertEqual(requests(out, to: "trunk").filter { $0.method == .invite }, [], "nothing sent to a dead trunk")
        let refused = try XCTUnwrap(responses(out, to: "ws-9").last)
        XCTAssertEqual(refused.statusCode, 503)
        XCTAssertTrue(refused.reason.contains("pbx down"), refused.reason)
        XCTAssertEqual(core.takeEndedCalls().map(\.trunk), ["pbx"])
        XCTAssertEqual(core.counters.calls, [CallResultKey(result: "503", trunk: "pbx"): 1])
    }

    func testACallFailsOverToTheNextTrunkOfItsRule() throws {
        makeCore(optionsInterval: 30, backup: true)
        pbxGoesDown()
        let (_, out) = try browserCalls("0123456789")
        XCTAssertEqual(requests(out, to: "trunk").filter { $0.method == .invite }, [])
        let invite = try XCTUnwrap(requests(out, to: "trunk-backup").first)
        XCTAssertEqual(invite.uri.description, "sip:+33123456789@192.0.2.81:5060")
        XCTAssertEqual(logs.last { $0.message == "trunk failover" }?.fields["passed_over"], "pbx down")
        XCTAssertEqual(core.callRecords.first?.trunk, "backup")
        let callID = try XCTUnwrap(core.callRecords.first?.id)
        XCTAssertEqual(logs.last { $0.message == "trunk failover" }?.fields["call"], callID, "the failover is logged with its call's id")
    }

    func testATrunksCallRateIsCapped() throws {
        makeCore(callsPerSecond: 1)
        let (_, first) = try browserCalls("0123456789")
        XCTAssertEqual(requests(first, to: "trunk").map(\.method), [.invite])
        let (_, second) = try browserCalls("0123456788")
        XCTAssertEqual(responses(second, to: "ws-9").last?.statusCode, 503, "a second call in the same second")
        XCTAssertTrue(responses(second, to: "ws-9").last?.reason.contains("over its call rate") ?? false)
        now = now + .seconds(1)
        let (_, third) = try browserCalls("0123456787")
        XCTAssertEqual(requests(third, to: "trunk").map(\.method), [.invite], "a second later the bucket has a token again")
    }

    // MARK: Browser to trunk

    func testBrowserCallRoutedByTheDialPlanAnsweredAndHungUpByTheBrowser() throws {
        let (invite, out) = try browserCalls("0123456789")
        XCTAssertEqual(responses(out, to: "ws-9").map(\.statusCode), [100])
        let toTrunk = try XCTUnwrap(requests(out, to: "trunk").first)
        XCTAssertEqual(toTrunk.method, .invite)
        XCTAssertEqual(toTrunk.uri.description, "sip:+33123456789@192.0.2.80:5080", "rewritten by the dial plan")
        XCTAssertEqual(try toTrunk.headers.from().displayName, "Alice")
        XCTAssertEqual(try toTrunk.headers.from().uri.user, "1001")
        XCTAssertEqual(try toTrunk.headers.maxForwards(), 69)
        XCTAssertNotEqual(try toTrunk.headers.callID(), try invite.headers.callID(), "a B2BUA starts a new dialog")
        XCTAssertEqual(String(decoding: toTrunk.body, as: UTF8.self), "v=0 relayed-offer-from-web")
        XCTAssertEqual(try toTrunk.headers.topVia().transport, "UDP")

        // The trunk rings, then answers.
        let ringing = deliver(.response(toTrunk.makeResponse(180, toTag: "pbx1")), from: "trunk")
        XCTAssertEqual(responses(ringing, to: "ws-9").map(\.statusCode), [180])
        var ok = toTrunk.makeResponse(200, toTag: "pbx1")
        ok.headers.add("Contact", "<sip:pbx@192.0.2.80:5080>")
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = sdp
        let answered = deliver(.response(ok), from: "trunk")
        let ackToTrunk = try XCTUnwrap(requests(answered, to: "trunk").first)
        XCTAssertEqual(ackToTrunk.method, .ack)
        XCTAssertEqual(ackToTrunk.uri.description, "sip:pbx@192.0.2.80:5080", "sent to the trunk's Contact")
        let okToBrowser = try XCTUnwrap(responses(answered, to: "ws-9").first)
        XCTAssertEqual(okToBrowser.statusCode, 200)
        XCTAssertEqual(String(decoding: okToBrowser.body, as: UTF8.self), "v=0 relayed-answer-from-trunk")
        XCTAssertEqual(core.activeCalls, 1)

        // The browser acknowledges and later hangs up.
        let browserTag = try XCTUnwrap(okToBrowser.headers.to().tag)
        let to = "<sip:0123456789@192.0.2.10>;tag=\(browserTag)"
        deliver(.request(request(.ack, uri: "sip:tandem@192.0.2.10", from: "<sip:1001@tandem>;tag=a1", to: to, cseq: 2)), from: "ws")
        let bye = deliver(.request(request(.bye, uri: "sip:tandem@192.0.2.10", from: "<sip:1001@tandem>;tag=a1", to: to, cseq: 3)), from: "ws")
        XCTAssertEqual(responses(bye, to: "ws-9").map(\.statusCode), [200])
        let byeToTrunk = try XCTUnwrap(requests(bye, to: "trunk").first)
        XCTAssertEqual(byeToTrunk.method, .bye)
        XCTAssertEqual(try byeToTrunk.headers.callID(), try toTrunk.headers.callID())
        XCTAssertEqual(try byeToTrunk.headers.to().tag, "pbx1")
        XCTAssertEqual(core.activeCalls, 0)
        XCTAssertEqual(media.events, ["offer from web", "answer from trunk", "release"])
    }

    /// A browser call answered by the trunk; returns the trunk's INVITE and the browser's 200.
    private func answeredBrowserCall(extra: [(String, String)] = []) throws -> (toTrunk: SIPRequest, okToBrowser: SIPResponse) {
        let (_, out) = try browserCalls("0123456789", extra: extra)
        let toTrunk = try XCTUnwrap(requests(out, to: "trunk").first)
        var ok = toTrunk.makeResponse(200, toTag: "pbx1")
        ok.headers.add("Contact", "<sip:pbx@192.0.2.80:5080>")
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = sdp
        let okToBrowser = try XCTUnwrap(responses(deliver(.response(ok), from: "trunk"), to: "ws-9").first)
        let to = try XCTUnwrap(okToBrowser.headers["To"])
        deliver(.request(request(.ack, uri: "sip:tandem@192.0.2.10", from: "<sip:1001@tandem>;tag=a1", to: to, cseq: 2)), from: "ws")
        return (toTrunk, okToBrowser)
    }

    func testHoldReInviteIsRelayedBothWays() throws {
        let (toTrunk, okToBrowser) = try answeredBrowserCall()
        let to = try XCTUnwrap(okToBrowser.headers["To"])
        let hold = request(.invite, uri: "sip:tandem@192.0.2.10", from: "<sip:1001@tandem>;tag=a1", to: to, cseq: 4,
                           body: Array("v=0\r\na=sendonly\r\n".utf8))
        let out = deliver(.request(hold), from: "ws")
        let reinvite = try XCTUnwrap(requests(out, to: "trunk").first)
        XCTAssertEqual(reinvite.method, .invite)
        XCTAssertEqual(try reinvite.headers.callID(), try toTrunk.headers.callID())
        XCTAssertEqual(try reinvite.headers.to().tag, "pbx1")
        XCTAssertEqual(reinvite.uri.description, "sip:pbx@192.0.2.80:5080")
        XCTAssertEqual(try reinvite.headers.cseq().number, 2, "the next CSeq on the trunk's dialog")
        var ok = reinvite.makeResponse(200)
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = Array("v=0\r\na=recvonly\r\n".utf8)
        let answered = deliver(.response(ok), from: "trunk")
        XCTAssertEqual(requests(answered, to: "trunk").map(\.method), [.ack])
        let back = try XCTUnwrap(responses(answered, to: "ws-9").first)
        XCTAssertEqual(back.statusCode, 200)
        XCTAssertEqual(String(decoding: back.body, as: UTF8.self), "v=0 relayed-answer-from-trunk")
        XCTAssertEqual(media.events.suffix(2), ["offer from web", "answer from trunk"])
        XCTAssertEqual(core.activeCalls, 1)
    }

    func testReliableEarlyMediaFromTheTrunkIsAcknowledgedWithPRACK() throws {
        let (_, out) = try browserCalls("0123456789")
        let toTrunk = try XCTUnwrap(requests(out, to: "trunk").first)
        XCTAssertEqual(toTrunk.headers["Supported"], "100rel")
        var progress = toTrunk.makeResponse(183, toTag: "pbx5")
        progress.headers.add("Require", "100rel")
        progress.headers.add("RSeq", "7")
        progress.headers.add("Contact", "<sip:pbx@192.0.2.80:5080>")
        progress.headers.add("Content-Type", "application/sdp")
        progress.body = sdp
        let first = deliver(.response(progress), from: "trunk")
        let prack = try XCTUnwrap(requests(first, to: "trunk").first)
        XCTAssertEqual(prack.method, .prack)
        XCTAssertEqual(prack.headers["RAck"], "7 1 INVITE")
        XCTAssertEqual(try prack.headers.to().tag, "pbx5")
        let early = try XCTUnwrap(responses(first, to: "ws-9").first)
        XCTAssertEqual(early.statusCode, 183)
        XCTAssertNil(early.headers["Require"], "relayed to the browser unreliably")
        XCTAssertEqual(String(decoding: early.body, as: UTF8.self), "v=0 relayed-answer-from-trunk")
        // A retransmission of the same reliable 183 is neither PRACKed nor relayed again.
        XCTAssertTrue(deliver(.response(progress), from: "trunk").isEmpty)
        deliver(.response(prack.makeResponse(200)), from: "trunk")
        var ok = toTrunk.makeResponse(200, toTag: "pbx5")
        ok.headers.add("Contact", "<sip:pbx@192.0.2.80:5080>")
        let answered = try XCTUnwrap(responses(deliver(.response(ok), from: "trunk"), to: "ws-9").first)
        XCTAssertEqual(answered.statusCode, 200)
        XCTAssertEqual(String(decoding: answered.body, as: UTF8.self), "v=0 relayed-answer-from-trunk", "the early answer stands")
        XCTAssertEqual(media.events, ["offer from web", "answer from trunk"])
    }

    func testSessionIntervalBelowMinSEIsRefusedWith422() throws {
        let out = try browserCalls("0123456789", extra: [("Session-Expires", "60"), ("Supported", "timer")]).out
        let refused = try XCTUnwrap(responses(out, to: "ws-9").last)
        XCTAssertEqual(refused.statusCode, 422)
        XCTAssertEqual(refused.headers["Min-SE"], "90")
    }

    func testSessionTimerEndsACallThatIsNeverRefreshed() throws {
        let (_, ok) = try answeredBrowserCall(extra: [("Session-Expires", "1800;refresher=uas"), ("Supported", "timer")])
        XCTAssertEqual(ok.headers["Session-Expires"], "1800;refresher=uac", "the caller refreshes")
        XCTAssertEqual(ok.headers["Require"], "timer")
        let start = now
        now = start + .seconds(1799)
        XCTAssertEqual(sent(core.timeout(now: now)).count, 0)
        XCTAssertEqual(core.activeCalls, 1)
        now = start + .seconds(1800)
        let ended = sent(core.timeout(now: now))
        XCTAssertEqual(requests(ended, to: "trunk").map(\.method), [.bye])
        XCTAssertEqual(requests(ended, to: "ws-9").map(\.method), [.bye])
        XCTAssertEqual(core.activeCalls, 0)
    }

    func testARefreshKeepsTheSessionAlive() throws {
        let (_, ok) = try answeredBrowserCall(extra: [("Session-Expires", "120"), ("Supported", "timer")])
        let start = now
        now = start + .seconds(60)
        let refresh = request(.update, uri: "sip:tandem@192.0.2.10", from: "<sip:1001@tandem>;tag=a1", to: try XCTUnwrap(ok.headers["To"]), cseq: 4,
                              headers: [("Session-Expires", "120;refresher=uac"), ("Supported", "timer")])
        let update = try XCTUnwrap(requests(deliver(.request(refresh), from: "ws"), to: "trunk").first)
        XCTAssertEqual(update.method, .update)
        let back = try XCTUnwrap(responses(deliver(.response(update.makeResponse(200)), from: "trunk"), to: "ws-9").first)
        XCTAssertEqual(back.headers["Session-Expires"], "120;refresher=uac")
        now = start + .seconds(150)
        XCTAssertEqual(requests(sent(core.timeout(now: now)), to: "trunk"), [], "refreshed at 60 s: alive until 180 s")
        XCTAssertEqual(core.activeCalls, 1)
        now = start + .seconds(181)
        _ = core.timeout(now: now)
        XCTAssertEqual(core.activeCalls, 0)
    }

    func testAMediaFailureEndsTheCallWithAReason() throws {
        let (toTrunk, _) = try answeredBrowserCall()
        let callID = media.calls.first!
        _ = core.takeEndedCalls()
        let ended = sent(core.endCall(callID, mediaFailure: .iceConsentExpired, now: now))
        let byes = requests(ended, to: "trunk") + requests(ended, to: "ws-9")
        XCTAssertEqual(byes.map(\.method), [.bye, .bye])
        XCTAssertEqual(byes.map { $0.headers["Reason"] }, Array(repeating: "SIP;cause=500;text=\"ICE consent expired\"", count: 2))
        XCTAssertEqual(try byes[0].headers.callID(), try toTrunk.headers.callID())
        XCTAssertEqual(core.activeCalls, 0)
        XCTAssertEqual(media.events.last, "release")
        // The record says who ended it, the text and the cause's label.
        let record = try XCTUnwrap(core.takeEndedCalls().first)
        XCTAssertEqual(record.endedBy, "media")
        XCTAssertEqual(record.endReason, "ICE consent expired")
        XCTAssertEqual(record.endCause, "ice_consent_expired")
    }

    func testAMediaFailureWithDetailPutsTheDetailInTheReasonTextAndNotInTheCause() throws {
        _ = try answeredBrowserCall()
        let callID = media.calls.first!
        _ = core.takeEndedCalls()
        let cause = MediaFailureCause.dtlsFingerprintMismatch.withDetail("the certificate's sha-256 \"AB:CD\" does not match a=fingerprint")
        let byes = requests(sent(core.endCall(callID, mediaFailure: cause, now: now)), to: "trunk")
        XCTAssertEqual(byes.first?.headers["Reason"],
                       #"SIP;cause=500;text="DTLS fingerprintMismatch: the certificate's sha-256 \"AB:CD\" does not match a=fingerprint""#)
        let record = try XCTUnwrap(core.takeEndedCalls().first)
        XCTAssertEqual(record.endCause, "dtls_fingerprint_mismatch")
        XCTAssertEqual(record.endReason, cause.text)
    }

    func testACallEndedOtherwiseHasNoCause() throws {
        _ = try answeredBrowserCall()
        let callID = media.calls.first!
        _ = core.takeEndedCalls()
        _ = core.hangUp(callID, now: now)
        let record = try XCTUnwrap(core.takeEndedCalls().first)
        XCTAssertEqual(record.endedBy, "operator")
        XCTAssertNil(record.endCause)
    }

    func testTheBrowsersConnectionClosingEndsTheCallAndItsBYEWaitsForTheReconnection() throws {
        let (toTrunk, okToBrowser) = try answeredBrowserCall()
        let closed = sent(core.connectionClosed(9, now: now))
        let toTrunkBye = try XCTUnwrap(requests(closed, to: "trunk").first)
        XCTAssertEqual(toTrunkBye.method, .bye)
        XCTAssertEqual(try toTrunkBye.headers.callID(), try toTrunk.headers.callID())
        XCTAssertEqual(toTrunkBye.headers["Reason"], "SIP;cause=480;text=\"connection lost: the browser's WebSocket closed\"")
        XCTAssertTrue(requests(closed, to: "ws-9").isEmpty, "nothing goes to the closed connection")
        XCTAssertEqual(core.activeCalls, 0)
        XCTAssertEqual(media.events.last, "release")

        // The library registers again over connection 12, with the Contact it had: the browser's
        // BYE follows the 200, in the old dialog.
        now = now + .seconds(3)
        let out = try registerBrowser(connection: 12)
        let bye = try XCTUnwrap(requests(out, to: "ws-12").first)
        XCTAssertEqual(bye.method, .bye)
        XCTAssertEqual(try bye.headers.callID(), "web-call-1")
        XCTAssertEqual(try bye.headers.to().tag, "a1", "the browser's own tag")
        XCTAssertEqual(try bye.headers.from().tag, try okToBrowser.headers.to().tag)
        XCTAssertEqual(bye.headers["Reason"], toTrunkBye.headers["Reason"])
        // Only once.
        XCTAssertTrue(requests(try registerBrowser(connection: 13), to: "ws-13").isEmpty)
    }

    func testABrowserThatDoesNotComeBackGetsNoBYE() throws {
        _ = try answeredBrowserCall()
        _ = core.connectionClosed(9, now: now)
        now = now + .seconds(40)
        let out = try registerBrowser(connection: 12)
        XCTAssertTrue(requests(out, to: "ws-12").isEmpty, "the BYE waited 32 s at most")
    }

    func testInfoIsRelayedAsIs() throws {
        let (_, okToBrowser) = try answeredBrowserCall()
        let info = request(.info, uri: "sip:tandem@192.0.2.10", from: "<sip:1001@tandem>;tag=a1", to: try XCTUnwrap(okToBrowser.headers["To"]), cseq: 4)
        var withBody = info
        withBody.headers.add("Content-Type", "application/dtmf-relay")
        withBody.body = Array("Signal=5\r\nDuration=160\r\n".utf8)
        let out = deliver(.request(withBody), from: "ws")
        let relayed = try XCTUnwrap(requests(out, to: "trunk").first)
        XCTAssertEqual(relayed.method, .info)
        XCTAssertEqual(relayed.headers["Content-Type"], "application/dtmf-relay")
        XCTAssertEqual(relayed.body, withBody.body)
        XCTAssertEqual(responses(deliver(.response(relayed.makeResponse(200)), from: "trunk"), to: "ws-9").map(\.statusCode), [200])
    }

    func testTrunkHangsUp() throws {
        let (_, out) = try browserCalls("0123456789")
        let toTrunk = try XCTUnwrap(requests(out, to: "trunk").first)
        var ok = toTrunk.makeResponse(200, toTag: "pbx1")
        ok.headers.add("Contact", "<sip:pbx@192.0.2.80:5080>")
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = sdp
        let answered = deliver(.response(ok), from: "trunk")
        let okToBrowser = try XCTUnwrap(responses(answered, to: "ws-9").first)
        // BYE from the trunk, in its dialog (From is the trunk's side: tag pbx1).
        var headers = SIPHeaders()
        headers.add("Via", "SIP/2.0/UDP 192.0.2.80:5080;branch=\(TransactionLayer<String>.newBranch())")
        headers.add("Max-Forwards", "70")
        headers.add("From", "<sip:+33123456789@192.0.2.80>;tag=pbx1")
        headers.add("To", toTrunk.headers["From"]!)
        headers.add("Call-ID", toTrunk.headers["Call-ID"]!)
        headers.add("CSeq", "10 BYE")
        let bye = deliver(.request(SIPRequest(method: .bye, uri: try SIPURI(parsing: "sip:tandem@192.0.2.10"), headers: headers)), from: "trunk")
        XCTAssertEqual(responses(bye, to: "trunk").map(\.statusCode), [200])
        let byeToBrowser = try XCTUnwrap(requests(bye, to: "ws-9").first)
        XCTAssertEqual(byeToBrowser.method, .bye)
        XCTAssertEqual(byeToBrowser.uri.host, "df7jal23ls0d.invalid", "to the browser's Contact")
        XCTAssertEqual(try byeToBrowser.headers.from().tag, try okToBrowser.headers.to().tag)
        XCTAssertEqual(core.activeCalls, 0)
    }

    func testBusyFromTheTrunkReachesTheBrowser() throws {
        let (_, out) = try browserCalls("0123456789")
        let toTrunk = try XCTUnwrap(requests(out, to: "trunk").first)
        let busy = deliver(.response(toTrunk.makeResponse(486, toTag: "pbx2")), from: "trunk")
        XCTAssertEqual(requests(busy, to: "trunk").map(\.method), [.ack], "the transaction acknowledges the 486")
        XCTAssertEqual(responses(busy, to: "ws-9").map(\.statusCode), [486])
        XCTAssertEqual(core.activeCalls, 0)
        XCTAssertEqual(media.events.last, "release")
    }

    func testCancelWhileRinging() throws {
        let (invite, out) = try browserCalls("0123456789")
        let toTrunk = try XCTUnwrap(requests(out, to: "trunk").first)
        deliver(.response(toTrunk.makeResponse(180, toTag: "pbx3")), from: "trunk")
        var cancel = invite
        cancel.method = .cancel
        cancel.body = []
        cancel.headers.set("CSeq", "2 CANCEL")
        cancel.headers.remove("Content-Type")
        cancel.headers.remove("Authorization")
        let cancelled = deliver(.request(cancel), from: "ws")
        XCTAssertEqual(responses(cancelled, to: "ws-9").map(\.statusCode).sorted(), [200, 487])
        let cancelToTrunk = try XCTUnwrap(requests(cancelled, to: "trunk").first)
        XCTAssertEqual(cancelToTrunk.method, .cancel)
        XCTAssertEqual(try cancelToTrunk.headers.topVia().branch, try toTrunk.headers.topVia().branch, "CANCEL matches the INVITE's branch")
        XCTAssertEqual(try cancelToTrunk.headers.cseq(), SIPCSeq(number: 1, method: .cancel))
        // The trunk confirms and terminates its INVITE; nothing more reaches the browser.
        let done = deliver(.response(toTrunk.makeResponse(487, toTag: "pbx3")), from: "trunk")
        XCTAssertEqual(responses(done, to: "ws-9"), [])
        XCTAssertEqual(core.activeCalls, 0)
    }

    func testCancelBeforeAnyProvisionalWaitsForOne() throws {
        let (invite, out) = try browserCalls("0123456789")
        let toTrunk = try XCTUnwrap(requests(out, to: "trunk").first)
        var cancel = invite
        cancel.method = .cancel
        cancel.body = []
        cancel.headers.set("CSeq", "2 CANCEL")
        let early = deliver(.request(cancel), from: "ws")
        XCTAssertEqual(requests(early, to: "trunk"), [], "§9.1: no CANCEL before a provisional response")
        let later = deliver(.response(toTrunk.makeResponse(180, toTag: "pbx4")), from: "trunk")
        XCTAssertEqual(requests(later, to: "trunk").map(\.method), [.cancel])
    }

    func testBrowserMustAuthenticateAndFromMustMatch() throws {
        let wrong = try browserCalls("0123456789", password: "wrong").out
        XCTAssertEqual(responses(wrong, to: "ws-9").last?.statusCode, 403)
        XCTAssertEqual(requests(wrong, to: "trunk"), [])
        let invite = request(.invite, uri: "sip:0123456789@192.0.2.10", from: "<sip:1001@tandem>;tag=a1", to: "<sip:0123456789@192.0.2.10>", body: sdp)
        XCTAssertEqual(responses(deliver(.request(invite), from: "ws"), to: "ws-9").last?.statusCode, 401)
    }

    func testNoRouteNoOfferAndMediaRefusal() throws {
        XCTAssertEqual(responses(try browserCalls("999").out, to: "ws-9").last?.statusCode, 404)
        core = SignalingCore(userAgent: "t", web: WebSettings(realm: "tandem"), users: [WebUser(username: "1001", password: "pw-1001")],
                             routing: CallRouting<String>(node: "n", trunks: [], dialPlan: [], endpoints: [:], trunkDestination: { _ in nil },
                                                          connectionDestination: { "ws-\($0)" }))
        XCTAssertEqual(responses(try browserCalls("0123456789").out, to: "ws-9").last?.statusCode, 404)
    }

    func testWithoutMediaLegsTheCallIsRefusedWith488AndAWarning() throws {
        makeCore(sessions: NoMediaSessionManager())
        let refused = try XCTUnwrap(responses(try browserCalls("0123456789").out, to: "ws-9").last)
        XCTAssertEqual(refused.statusCode, 488)
        XCTAssertEqual(refused.headers["Warning"], "399 test-node \"media legs are not available on this node yet\"")
    }

    func testARequestThatAlreadyPassedThroughTandemIsALoop() throws {
        var looped = trunkInvite(to: "1001")
        looped.headers.add("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKours")
        XCTAssertEqual(responses(deliver(.request(looped), from: "trunk"), to: "trunk").last?.statusCode, 482)
    }

    // MARK: Trunk to browser

    /// Registers 1001 from a WebSocket connection (9 unless told); returns what the accepted
    /// REGISTER made the core send, the 200 first.
    @discardableResult
    private func registerBrowser(connection: UInt64 = 9) throws -> [(String, SIPMessage)] {
        let register = request(.register, uri: "sip:192.0.2.10", from: "<sip:1001@tandem>;tag=r\(connection)", to: "<sip:1001@tandem>", callID: "reg\(connection)")
        let challenge = try XCTUnwrap(responses(deliver(.request(register), from: "ws", connection: connection), to: "ws-\(connection)").first)
        var client = DigestClient(username: "1001", password: "pw-1001")
        let credentials = try XCTUnwrap(client.answer(headerValues: challenge.headers.values("WWW-Authenticate"), method: "REGISTER", uri: "sip:192.0.2.10"))
        let second = request(.register, uri: "sip:192.0.2.10", from: "<sip:1001@tandem>;tag=r\(connection)", to: "<sip:1001@tandem>", callID: "reg\(connection)",
                             cseq: 2, headers: [("Authorization", credentials.headerValue), ("Expires", "600")])
        let out = deliver(.request(second), from: "ws", connection: connection)
        XCTAssertEqual(responses(out, to: "ws-\(connection)").map(\.statusCode), [200])
        return out
    }

    private func trunkInvite(to user: String) -> SIPRequest {
        request(.invite, uri: "sip:\(user)@192.0.2.10:5060", from: "<sip:+33987654321@192.0.2.80>;tag=t1", to: "<sip:\(user)@192.0.2.10>",
                callID: "trunk-call-1", transport: "UDP", host: "192.0.2.80:5080", body: sdp)
    }

    func testTrunkCallReachesTheRegisteredBrowserOverItsWebSocket() throws {
        try registerBrowser()
        let out = deliver(.request(trunkInvite(to: "1001")), from: "trunk")
        XCTAssertEqual(responses(out, to: "trunk").map(\.statusCode), [100])
        let toBrowser = try XCTUnwrap(requests(out, to: "ws-9").first)
        XCTAssertEqual(toBrowser.uri.description, "sip:abc@df7jal23ls0d.invalid;transport=ws", "the registered Contact")
        XCTAssertEqual(try toBrowser.headers.topVia().transport, "WS")
        XCTAssertEqual(try toBrowser.headers.from().uri.user, "+33987654321")
        XCTAssertEqual(String(decoding: toBrowser.body, as: UTF8.self), "v=0 relayed-offer-from-trunk")
        var ok = toBrowser.makeResponse(200, toTag: "b1")
        ok.headers.add("Contact", "<sip:abc@df7jal23ls0d.invalid;transport=ws>")
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = sdp
        let answered = deliver(.response(ok), from: "ws")
        XCTAssertEqual(requests(answered, to: "ws-9").map(\.method), [.ack])
        let okToTrunk = try XCTUnwrap(responses(answered, to: "trunk").first)
        XCTAssertEqual(okToTrunk.statusCode, 200)
        XCTAssertEqual(String(decoding: okToTrunk.body, as: UTF8.self), "v=0 relayed-answer-from-web")
    }

    func testTrunkCallsToUnknownOrUnregisteredUsers() throws {
        XCTAssertEqual(responses(deliver(.request(trunkInvite(to: "7777")), from: "trunk"), to: "trunk").last?.statusCode, 404)
        XCTAssertEqual(responses(deliver(.request(trunkInvite(to: "1001")), from: "trunk"), to: "trunk").last?.statusCode, 480)
    }

    func testInviteFromAnUnknownSourceIsForbidden() throws {
        let out = deliver(.request(trunkInvite(to: "1001")), from: "stranger")
        XCTAssertEqual(responses(out, to: "stranger").last?.statusCode, 403)
        XCTAssertEqual(responses(out, to: "stranger").last?.reason, "Forbidden (source not allowed)")
        XCTAssertEqual(core.activeCalls, 0)
    }

    func testTrunkChallengeIsAnsweredWithTheTrunkCredentials() throws {
        trunkCredentials = TrunkCredentials(username: "tandem", password: "trunk-secret", realm: nil)
        makeCore()
        let (_, out) = try browserCalls("0123456789")
        let first = try XCTUnwrap(requests(out, to: "trunk").first)
        var challenge = first.makeResponse(407, toTag: "px")
        for value in DigestServer(realm: "pbx.example").challenges(now: now) { challenge.headers.add("Proxy-Authenticate", value.headerValue) }
        let retried = deliver(.response(challenge), from: "trunk")
        let invites = requests(retried, to: "trunk").filter { $0.method == .invite }
        let second = try XCTUnwrap(invites.first)
        XCTAssertEqual(try second.headers.cseq().number, 2)
        XCTAssertEqual(try second.headers.callID(), try first.headers.callID())
        let credentials = try DigestCredentials(parsing: try XCTUnwrap(second.headers["Proxy-Authorization"]))
        XCTAssertEqual(credentials.username, "tandem")
        XCTAssertEqual(responses(retried, to: "ws-9"), [], "the browser sees nothing of it")
    }

    func testTrunkIsPingedWithOptionsAndMarkedUpThenDown() throws {
        makeCore(optionsInterval: 30)
        let first = sent(core.timeout(now: now))
        let ping = try XCTUnwrap(requests(first, to: "trunk").first)
        XCTAssertEqual(ping.method, .options)
        XCTAssertEqual(ping.headers["User-Agent"], "Tandem-test")
        deliver(.response(ping.makeResponse(200, toTag: "o1")), from: "trunk")
        XCTAssertEqual(core.trunkStates, ["pbx": "up"])
        // The trunk stops answering: the next ping times out (Timer F, 32 s) and marks it down.
        for second in stride(from: 1, through: 70, by: 1) {
            now = NIODeadline.uptimeNanoseconds(50_000_000_000) + .seconds(Int64(second))
            _ = core.timeout(now: now)
        }
        XCTAssertEqual(core.trunkStates, ["pbx": "down"])
    }

    func testDrainRefusesNewCallsAndEndsTheRest() throws {
        let (_, out) = try browserCalls("0123456789")
        let toTrunk = try XCTUnwrap(requests(out, to: "trunk").first)
        var ok = toTrunk.makeResponse(200, toTag: "pbx1")
        ok.headers.add("Contact", "<sip:pbx@192.0.2.80:5080>")
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = sdp
        deliver(.response(ok), from: "trunk")
        core.admitting = false
        XCTAssertEqual(responses(deliver(.request(trunkInvite(to: "1001")), from: "trunk"), to: "trunk").last?.statusCode, 503)
        let ended = sent(core.endAllCalls(now: now))
        XCTAssertEqual(requests(ended, to: "trunk").map(\.method), [.bye])
        XCTAssertEqual(requests(ended, to: "ws-9").map(\.method), [.bye])
        XCTAssertEqual(core.activeCalls, 0)
    }
}
