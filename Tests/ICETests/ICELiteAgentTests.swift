// Tests of the ICE-lite agent (RFC 8445 §2.5, §7.3, §9) and consent freshness (RFC 7675) under a
// fake clock: checks are built as the full agent on the other side would build them, and the
// agent's responses are verified from that side's point of view.

import NIOCore
import XCTest

@testable import ICE

/// A deterministic generator (SplitMix64) for repeatable credentials.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The full (controlling) agent on the browser side.
struct RemotePeer {
    var ufrag = "RmtU"
    var password = "remotePasswordRemotePw"
    var generator = SeededGenerator(state: 99)

    /// A Binding request toward an agent with `local` credentials.
    mutating func check(
        to local: ICECredentials, useCandidate: Bool = false, username: String? = nil, password: String? = nil,
        controlled: Bool = false, extra: [STUNAttribute] = [], fingerprint: Bool = true
    ) -> (bytes: [UInt8], id: STUNTransactionID) {
        let id = STUNTransactionID.random(using: &generator)
        var attributes: [STUNAttribute] = [
            .username(username ?? "\(local.ufrag):\(ufrag)"), .priority(0x6E00_01FF),
            controlled ? .iceControlled(42) : .iceControlling(0x1234_5678),
        ]
        if useCandidate { attributes.append(.useCandidate) }
        attributes += extra
        let message = STUNMessage(type: .bindingRequest, transactionID: id, attributes: attributes)
        return (message.encode(integrityPassword: password ?? local.password, fingerprint: fingerprint), id)
    }
}

final class ICELiteAgentTests: XCTestCase {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let hostA = ICETransportAddress(ipv4: 198, 51, 100, 10, port: 40000)
    let hostB = ICETransportAddress(ipv4: 198, 51, 100, 11, port: 40002)
    let browser1 = ICETransportAddress(ipv4: 203, 0, 113, 5, port: 61000)
    let browser2 = ICETransportAddress(ipv6: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [7], port: 61001)
    let stranger = ICETransportAddress(ipv4: 192, 0, 2, 66, port: 1234)
    var peer = RemotePeer()

    func at(_ seconds: Double) -> NIODeadline { start + .nanoseconds(Int64(seconds * 1e9)) }

    func makeAgent(configuration: ICELiteConfiguration = .init()) -> ICELiteAgent {
        var generator = SeededGenerator(state: 7)
        return ICELiteAgent(
            remoteUfrag: peer.ufrag, remotePassword: peer.password,
            localCandidates: [ICECandidate(address: hostA), ICECandidate(address: hostB, foundation: "2", localPreference: 65534)],
            now: start, configuration: configuration, using: &generator)
    }

    /// Sends a valid check and asserts it was answered with success.
    @discardableResult
    func check(_ agent: inout ICELiteAgent, from remote: ICETransportAddress, at time: Double, nominate: Bool = false,
               file: StaticString = #filePath, line: UInt = #line) -> ICEAgentOutput {
        let request = peer.check(to: agent.localCredentials, useCandidate: nominate)
        let output = agent.receive(request.bytes, from: remote, now: at(time))
        XCTAssertEqual(output.datagrams.count, 1, file: file, line: line)
        if let response = output.datagrams.first, let parsed = try? STUNMessage.parse(response.bytes) {
            XCTAssertEqual(parsed.type, .bindingSuccess, file: file, line: line)
        } else {
            XCTFail("no parseable response", file: file, line: line)
        }
        return output
    }

    func errorCode(of output: ICEAgentOutput) throws -> STUNErrorCode? {
        let datagram = try XCTUnwrap(output.datagrams.first)
        let response = try STUNMessage.parse(datagram.bytes)
        XCTAssertEqual(response.type, .bindingError)
        XCTAssertTrue(response.verifyFingerprint())
        return response.errorCode
    }

    // MARK: Credentials

    func testGeneratedCredentialsHaveEnoughIceChars() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let credentials = ICECredentials.generate(using: &generator)
            XCTAssertTrue(credentials.isValid, "\(credentials)")
            XCTAssertGreaterThanOrEqual(credentials.ufrag.count, 4)
            XCTAssertGreaterThanOrEqual(credentials.password.count, 22)
        }
        XCTAssertNotEqual(ICECredentials.generate(), ICECredentials.generate())
        XCTAssertFalse(ICECredentials(ufrag: "abc", password: String(repeating: "p", count: 22)).isValid)
        XCTAssertFalse(ICECredentials(ufrag: "abcd", password: String(repeating: "p", count: 21)).isValid)
        XCTAssertFalse(ICECredentials(ufrag: "ab:d", password: String(repeating: "p", count: 22)).isValid)
    }

    func testAnInjectedGeneratorGivesRepeatableCredentials() {
        XCTAssertEqual(makeAgent().localCredentials, makeAgent().localCredentials)
        var other = SeededGenerator(state: 8)
        XCTAssertNotEqual(ICECredentials.generate(using: &other), makeAgent().localCredentials)
    }

    func testExplicitCredentialsAreUsed() {
        let agent = ICELiteAgent(
            localUfrag: "evtj", localPassword: RFC5769.password, remoteUfrag: "h6vY", remotePassword: "x",
            localCandidates: [ICECandidate(address: hostA)], now: start)
        XCTAssertEqual(agent.localCredentials, ICECredentials(ufrag: "evtj", password: RFC5769.password))
        XCTAssertEqual(agent.remoteCredentials.ufrag, "h6vY")
        XCTAssertFalse(agent.isControlling)
        XCTAssertEqual(ICECandidate(address: hostA).priority, 126 << 24 | 65535 << 8 | 255)
    }

    // MARK: Checks

    func testAValidCheckIsAnsweredWithASuccessTheRemoteCanVerify() throws {
        var agent = makeAgent(configuration: ICELiteConfiguration(software: "Tandem"))
        let request = peer.check(to: agent.localCredentials)
        let output = agent.receive(request.bytes, from: browser1, now: at(1))
        XCTAssertEqual(output.events, [])
        let datagram = try XCTUnwrap(output.datagrams.first)
        XCTAssertEqual(datagram.destination, browser1)
        XCTAssertEqual(datagram.source, hostA)
        let response = try STUNMessage.parse(datagram.bytes)
        XCTAssertEqual(response.type, .bindingSuccess)
        XCTAssertEqual(response.transactionID, request.id)
        // The remote knows the agent's password from the SDP and checks with it.
        XCTAssertTrue(response.verifyIntegrity(password: agent.localCredentials.password))
        XCTAssertTrue(response.verifyFingerprint())
        XCTAssertEqual(response.xorMappedAddress, browser1)
        XCTAssertEqual(response.software, "Tandem")
        XCTAssertTrue(agent.permitted(browser1))
        XCTAssertTrue(agent.permitted(browser1.socketAddress))
        XCTAssertFalse(agent.permitted(stranger))
        XCTAssertEqual(agent.state, .checking)
        XCTAssertNil(agent.selectedPair)
        XCTAssertEqual(agent.statistics.validChecks, 1)
    }

    func testAnIPv6CheckOnTheSecondCandidateIsAnsweredFromIt() throws {
        var agent = makeAgent()
        let request = peer.check(to: agent.localCredentials)
        let output = agent.receive(ByteBuffer(bytes: request.bytes), from: browser2, to: hostB, now: at(1))
        let datagram = try XCTUnwrap(output.datagrams.first)
        XCTAssertEqual(datagram.source, hostB)
        XCTAssertEqual(datagram.destination, browser2)
        XCTAssertEqual(try STUNMessage.parse(datagram.bytes).xorMappedAddress, browser2)
        XCTAssertTrue(agent.permitted(browser2))
    }

    func testTheDriverCanSpeakInSocketAddressesAndByteBuffers() throws {
        var agent = makeAgent()
        let request = peer.check(to: agent.localCredentials, useCandidate: true)
        let output = agent.receive(
            ByteBuffer(bytes: request.bytes), from: browser1.socketAddress, to: hostB.socketAddress, now: at(1))
        XCTAssertEqual(output.events, [.selected(browser1)])
        XCTAssertEqual(output.datagrams.first?.source, hostB)
        XCTAssertEqual(agent.selectedPair, ICECandidatePair(local: hostB, remote: browser1))
        XCTAssertTrue(agent.permitted(try SocketAddress(ipAddress: "203.0.113.5", port: 61000)))
        XCTAssertFalse(agent.permitted(try SocketAddress(ipAddress: "203.0.113.5", port: 61002)))
    }

    func testNominationSelectsThePair() {
        var agent = makeAgent()
        check(&agent, from: browser1, at: 1)
        let output = check(&agent, from: browser1, at: 1.5, nominate: true)
        XCTAssertEqual(output.events, [.selected(browser1)])
        XCTAssertEqual(agent.selectedPair, ICECandidatePair(local: hostA, remote: browser1))
        XCTAssertEqual(agent.state, .connected)
        XCTAssertEqual(output.nextDeadline, at(31.5))
        // Nominating the same pair again is not a new selection.
        XCTAssertEqual(check(&agent, from: browser1, at: 2, nominate: true).events, [])
    }

    func testRenominationFromAnotherAddressSwitchesThePair() {
        var agent = makeAgent()
        check(&agent, from: browser1, at: 1, nominate: true)
        let output = check(&agent, from: browser2, at: 3, nominate: true)
        XCTAssertEqual(output.events, [.selected(browser2)])
        XCTAssertEqual(agent.selectedPair?.remote, browser2)
        XCTAssertTrue(agent.permitted(browser1))
        XCTAssertTrue(agent.permitted(browser2))
        // Checks from the old pair no longer keep consent: only the selected pair does.
        check(&agent, from: browser1, at: 20)
        XCTAssertEqual(agent.nextDeadline, at(33))
    }

    // MARK: Refusals

    func testAWrongPasswordIsAnswered401AndNothingIsPermitted() throws {
        var agent = makeAgent()
        let request = peer.check(to: agent.localCredentials, useCandidate: true, password: "notTheRightPasswordAtAll")
        let output = agent.receive(request.bytes, from: stranger, now: at(1))
        XCTAssertEqual(try errorCode(of: output)?.code, 401)
        let response = try STUNMessage.parse(output.datagrams[0].bytes)
        XCTAssertFalse(response.hasIntegrity)
        XCTAssertEqual(output.events, [])
        XCTAssertFalse(agent.permitted(stranger))
        XCTAssertNil(agent.selectedPair)
        XCTAssertEqual(agent.statistics.unauthenticated, 1)
        XCTAssertEqual(agent.statistics.validChecks, 0)
    }

    // MARK: Policing

    /// 160k bad checks once moved no counter and each got an answer. Now a flood from one
    /// address is policed to its rate, dropped unread beyond it, and error answers in all are
    /// capped; the browser's checks from another address are answered throughout, and once it
    /// has passed a check it is never policed.
    func testAFloodOfBadChecksIsPolicedAndCountedWhileTheBrowsersChecksAreAnswered() throws {
        var agent = makeAgent()
        var answered = 0
        var browserAnswers = 0
        // 10 s at 1,000 bad checks a second from the stranger; the browser checks every 50 ms,
        // nominating at once.
        for tick in 0..<10_000 {
            let time = 1 + Double(tick) / 1000
            let bad = peer.check(to: agent.localCredentials, password: "notTheRightPasswordAtAll")
            answered += agent.receive(bad.bytes, from: stranger, now: at(time)).datagrams.count
            if tick % 50 == 0 {
                let good = peer.check(to: agent.localCredentials, useCandidate: true)
                let output = agent.receive(good.bytes, from: browser1, now: at(time))
                if let response = output.datagrams.first, try STUNMessage.parse(response.bytes).type == .bindingSuccess { browserAnswers += 1 }
            }
        }
        XCTAssertEqual(browserAnswers, 200, "every one of the browser's checks is answered with success")
        XCTAssertEqual(agent.selectedPair?.remote, browser1)
        // The stranger's bucket: a burst of 40, then 20 a second.
        let admitted = agent.statistics.unauthenticated
        XCTAssertGreaterThanOrEqual(admitted, 230)
        XCTAssertLessThanOrEqual(admitted, 245)
        XCTAssertEqual(agent.statistics.policed, 10_000 - admitted)
        XCTAssertLessThanOrEqual(answered, admitted, "no more answers than admitted requests")
        XCTAssertLessThanOrEqual(answered, 40 + 20 * 10 + 1, "error answers are capped")
    }

    func testErrorAnswersAreCappedInAllWhenTheFloodComesFromManyAddresses() {
        var agent = makeAgent()
        var answered = 0
        for index in 0..<5_000 {
            let source = ICETransportAddress(ipv4: 192, 0, 2, UInt8(index % 200), port: UInt16(1024 + index))
            let bad = peer.check(to: agent.localCredentials, password: "notTheRightPasswordAtAll")
            answered += agent.receive(bad.bytes, from: source, now: at(1 + Double(index) / 5000)).datagrams.count
        }
        XCTAssertLessThanOrEqual(answered, 40 + 20 + 1, "a second of spoofed checks gets at most the error burst and a second's rate back")
        XCTAssertEqual(agent.statistics.errorsUnsent + answered, agent.statistics.unauthenticated)
        check(&agent, from: browser1, at: 2, nominate: true)  // the browser is still answered
    }

    func testAWrongUsernameIsAnswered401() throws {
        var agent = makeAgent()
        let local = agent.localCredentials
        for username in ["\(peer.ufrag):\(local.ufrag)", "\(local.ufrag):other", local.ufrag, ""] {
            let request = peer.check(to: local, useCandidate: true, username: username)
            XCTAssertEqual(try errorCode(of: agent.receive(request.bytes, from: stranger, now: at(1)))?.code, 401)
        }
        XCTAssertEqual(agent.statistics.unauthenticated, 4)
        XCTAssertFalse(agent.permitted(stranger))
    }

    func testAModifiedCheckIsRefused() throws {
        var agent = makeAgent()
        var request = peer.check(to: agent.localCredentials, useCandidate: true, fingerprint: false).bytes
        request[30] ^= 0x01  // a byte of USERNAME: integrity fails; add a fresh FINGERPRINT
        var parsed = try STUNMessage.parse(request)
        parsed.attributes.removeAll { $0.type == .messageIntegrity }
        var tampered = parsed.encode(integrityPassword: "someoneElsesPasswordXY", fingerprint: true)
        let output = agent.receive(tampered, from: stranger, now: at(1))
        XCTAssertEqual(try errorCode(of: output)?.code, 401)
        tampered[tampered.count - 1] ^= 0xFF
        XCTAssertEqual(agent.receive(tampered, from: stranger, now: at(1)).datagrams, [])
        XCTAssertFalse(agent.permitted(stranger))
    }

    func testChecksWithoutAValidFingerprintAreDroppedSilently() {
        var agent = makeAgent()
        var request = peer.check(to: agent.localCredentials, useCandidate: true).bytes
        request[request.count - 1] ^= 0x01
        XCTAssertEqual(agent.receive(request, from: browser1, now: at(1)).datagrams, [])
        let unfingerprinted = peer.check(to: agent.localCredentials, useCandidate: true, fingerprint: false).bytes
        XCTAssertEqual(agent.receive(unfingerprinted, from: browser1, now: at(1)).datagrams, [])
        XCTAssertEqual(agent.statistics.discarded, 2)
        XCTAssertFalse(agent.permitted(browser1))
    }

    func testARequestWithoutIntegrityIsAnswered400() throws {
        var agent = makeAgent()
        let message = STUNMessage(
            type: .bindingRequest, transactionID: STUNTransactionID(high: 1, low: 2),
            attributes: [.username("\(agent.localCredentials.ufrag):\(peer.ufrag)"), .useCandidate])
        let output = agent.receive(message.encode(fingerprint: true), from: stranger, now: at(1))
        XCTAssertEqual(try errorCode(of: output)?.code, 400)
        XCTAssertEqual(agent.statistics.badRequests, 1)
        XCTAssertFalse(agent.permitted(stranger))
    }

    func testARoleConflictIsAnswered487AndTheAgentStaysControlled() throws {
        var agent = makeAgent()
        let request = peer.check(to: agent.localCredentials, useCandidate: true, controlled: true)
        let output = agent.receive(request.bytes, from: browser1, now: at(1))
        XCTAssertEqual(try errorCode(of: output)?.code, 487)
        let response = try STUNMessage.parse(output.datagrams[0].bytes)
        XCTAssertTrue(response.verifyIntegrity(password: agent.localCredentials.password))
        XCTAssertEqual(agent.statistics.roleConflicts, 1)
        XCTAssertFalse(agent.isControlling)
        XCTAssertNil(agent.selectedPair)
        XCTAssertFalse(agent.permitted(browser1))
    }

    func testUnknownComprehensionRequiredAttributesAreAnswered420() throws {
        var agent = makeAgent()
        let request = peer.check(
            to: agent.localCredentials, useCandidate: true,
            extra: [.other(type: STUNAttributeType(rawValue: 0x0031), value: [1]),
                    .other(type: STUNAttributeType(rawValue: 0xC057), value: [2])])
        let output = agent.receive(request.bytes, from: browser1, now: at(1))
        XCTAssertEqual(try errorCode(of: output)?.code, 420)
        let response = try STUNMessage.parse(output.datagrams[0].bytes)
        XCTAssertEqual(response.attribute(.unknownAttributes), .unknownAttributes([0x0031]))
        XCTAssertNil(agent.selectedPair)
    }

    func testIndicationsResponsesAndMediaAreNotAnswered() {
        var agent = makeAgent()
        let indication = STUNMessage(type: .bindingIndication, transactionID: STUNTransactionID(high: 1, low: 1))
            .encode(fingerprint: true)
        let response = STUNMessage(type: .bindingSuccess, transactionID: STUNTransactionID(high: 1, low: 1))
            .encode(fingerprint: true)
        for datagram in [indication, response, [0x80, 0x00, 0x00, 0x01], []] {
            XCTAssertEqual(agent.receive(datagram, from: browser1, now: at(1)).datagrams, [])
        }
        XCTAssertEqual(agent.statistics.discarded, 4)
        XCTAssertFalse(agent.permitted(browser1))
    }

    func testAWellFormedCheckForSomeoneElseIsAnswered401() throws {
        // RFC 5769's sample request is a valid check, but for the agent "evtj".
        var agent = makeAgent()
        XCTAssertEqual(try errorCode(of: agent.receive(RFC5769.request, from: browser1, now: at(1)))?.code, 401)
        XCTAssertEqual(agent.statistics.unauthenticated, 1)
        XCTAssertFalse(agent.permitted(browser1))
    }

    // MARK: Timers

    func testICEFailsWhenNothingIsSelectedInTime() {
        var agent = makeAgent()
        XCTAssertEqual(agent.nextDeadline, at(30))
        check(&agent, from: browser1, at: 5)
        XCTAssertEqual(agent.timeout(now: at(29.9)).events, [])
        let output = agent.timeout(now: at(30))
        XCTAssertEqual(output.events, [.failed])
        XCTAssertNil(output.nextDeadline)
        XCTAssertEqual(agent.state, .failed)
        XCTAssertFalse(agent.permitted(browser1))
        // A failed agent answers nothing until restarted.
        let late = peer.check(to: agent.localCredentials, useCandidate: true)
        XCTAssertEqual(agent.receive(late.bytes, from: browser1, now: at(31)).datagrams, [])
        XCTAssertEqual(agent.timeout(now: at(100)).events, [])
    }

    func testConsentExpiresThirtySecondsAfterTheLastCheckAndNotBefore() {
        var agent = makeAgent()
        check(&agent, from: browser1, at: 2, nominate: true)
        XCTAssertEqual(agent.nextDeadline, at(32))
        XCTAssertEqual(agent.timeout(now: at(31.999)).events, [])
        XCTAssertTrue(agent.permitted(browser1))
        let output = agent.timeout(now: at(32))
        XCTAssertEqual(output.events, [.consentExpired])
        XCTAssertNil(output.nextDeadline)
        XCTAssertEqual(agent.state, .consentExpired)
        XCTAssertNil(agent.selectedPair)
        XCTAssertFalse(agent.permitted(browser1))
        XCTAssertEqual(agent.timeout(now: at(62)).events, [])
    }

    func testChecksEveryFiveSecondsKeepConsentAlive() {
        var agent = makeAgent()
        check(&agent, from: browser1, at: 0, nominate: true)
        var time = 0.0
        while time < 300 {
            time += 5
            check(&agent, from: browser1, at: time)
            XCTAssertEqual(agent.timeout(now: at(time + 4.9)).events, [])
        }
        XCTAssertEqual(agent.state, .connected)
        XCTAssertTrue(agent.permitted(browser1))
        XCTAssertEqual(agent.nextDeadline, at(330))
        XCTAssertEqual(agent.timeout(now: at(329)).events, [])
        XCTAssertEqual(agent.timeout(now: at(330)).events, [.consentExpired])
    }

    func testChecksFromOtherAddressesOrRefusedChecksDoNotKeepConsent() {
        var agent = makeAgent()
        check(&agent, from: browser1, at: 0, nominate: true)
        check(&agent, from: browser2, at: 10)
        let bad = peer.check(to: agent.localCredentials, password: "wrongwrongwrongwrongwrong")
        _ = agent.receive(bad.bytes, from: browser1, now: at(20))
        XCTAssertEqual(agent.timeout(now: at(30)).events, [.consentExpired])
    }

    // MARK: ICE restart

    func testRestartKeepsTheSelectedPairUntilANewCheckSucceeds() throws {
        var agent = makeAgent()
        check(&agent, from: browser1, at: 0, nominate: true)
        check(&agent, from: stranger, at: 1)
        let old = agent.localCredentials
        var generator = SeededGenerator(state: 1234)
        _ = agent.restart(remoteUfrag: "NewR", remotePassword: "newRemotePasswordNewRem", now: at(5), using: &generator)
        XCTAssertNotEqual(agent.localCredentials, old)
        XCTAssertEqual(agent.remoteCredentials, ICECredentials(ufrag: "NewR", password: "newRemotePasswordNewRem"))
        XCTAssertEqual(agent.selectedPair?.remote, browser1)
        XCTAssertEqual(agent.state, .connected)
        XCTAssertTrue(agent.permitted(browser1))

        // Until the peer switches, its consent checks under the old credentials still count.
        let oldCheck = peer.check(to: old)
        let oldOutput = agent.receive(oldCheck.bytes, from: browser1, now: at(10))
        let oldResponse = try STUNMessage.parse(XCTUnwrap(oldOutput.datagrams.first).bytes)
        XCTAssertEqual(oldResponse.type, .bindingSuccess)
        XCTAssertTrue(oldResponse.verifyIntegrity(password: old.password))
        XCTAssertEqual(agent.nextDeadline, at(40))

        // The first check under the new credentials completes the restart.
        peer.ufrag = "NewR"
        peer.password = "newRemotePasswordNewRem"
        let output = check(&agent, from: browser2, at: 12)
        XCTAssertEqual(output.events, [])
        XCTAssertEqual(agent.selectedPair?.remote, browser1)
        XCTAssertTrue(agent.permitted(browser1))
        XCTAssertTrue(agent.permitted(browser2))
        XCTAssertFalse(agent.permitted(stranger))

        // Old credentials are now refused.
        peer.ufrag = "RmtU"
        let stale = peer.check(to: old)
        XCTAssertEqual(try errorCode(of: agent.receive(stale.bytes, from: browser1, now: at(13)))?.code, 401)

        // The peer nominates the new pair.
        peer.ufrag = "NewR"
        XCTAssertEqual(check(&agent, from: browser2, at: 14, nominate: true).events, [.selected(browser2)])
        XCTAssertEqual(agent.nextDeadline, at(44))
    }

    func testRestartAfterConsentExpiryStartsAgain() {
        var agent = makeAgent()
        check(&agent, from: browser1, at: 0, nominate: true)
        XCTAssertEqual(agent.timeout(now: at(30)).events, [.consentExpired])
        let output = agent.restart(
            localCredentials: ICECredentials(ufrag: "LclN", password: "localPasswordLocalPassw"),
            remoteUfrag: "NewR", remotePassword: "newRemotePasswordNewRem", now: at(40))
        XCTAssertEqual(output.nextDeadline, at(70))
        XCTAssertEqual(agent.state, .checking)
        XCTAssertFalse(agent.permitted(browser1))
        peer.ufrag = "NewR"
        XCTAssertEqual(check(&agent, from: browser1, at: 41, nominate: true).events, [.selected(browser1)])
        XCTAssertEqual(agent.state, .connected)
    }
}
