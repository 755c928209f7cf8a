import Gateway
import NIOCore
import SIP
import TandemConfig
import XCTest

final class RegistrarTests: XCTestCase {
    private let start = NIODeadline.uptimeNanoseconds(10_000_000_000)
    private var registrar = Registrar(
        web: WebSettings(realm: "tandem", minExpires: 60, maxExpires: 3600),
        users: [WebUser(username: "1001", password: "secret-1001", maxRegistrations: 2), WebUser(username: "1002", password: "pw2")])

    private func register(user: String = "1001", contact: String? = "<sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws>", expires: Int? = 600,
                          cseq: UInt32 = 1, authorization: String? = nil, transport: String = "WS") -> SIPRequest {
        var headers = SIPHeaders()
        headers.add("Via", "SIP/2.0/\(transport) df7jal23ls0d.invalid;branch=\(TransactionLayer<String>.newBranch())")
        headers.add("Max-Forwards", "70")
        headers.add("To", "<sip:\(user)@tandem>")
        headers.add("From", "<sip:\(user)@tandem>;tag=f\(cseq)")
        headers.add("Call-ID", "reg-1")
        headers.add("CSeq", "\(cseq) REGISTER")
        if let contact { headers.add("Contact", contact) }
        if let expires { headers.add("Expires", String(expires)) }
        if let authorization { headers.add("Authorization", authorization) }
        return SIPRequest(method: .register, uri: try! SIPURI(parsing: "sip:tandem"), headers: headers)
    }

    /// REGISTER, get the 401, answer it as `user` with `password`.
    private func authenticatedRegister(user: String = "1001", password: String = "secret-1001", contact: String? = "<sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws>",
                                       expires: Int? = 600, cseq: UInt32 = 2, aor: String? = nil, now: NIODeadline? = nil,
                                       connection: UInt64? = 9, source: String = "192.0.2.9") -> RegistrarAnswer {
        authenticatedRegisterWithCredentials(user: user, password: password, contact: contact, expires: expires, cseq: cseq, aor: aor, now: now,
                                             connection: connection, source: source).answer
    }

    /// The same, returning the Authorization header sent too (for a replay).
    private func authenticatedRegisterWithCredentials(user: String = "1001", password: String = "secret-1001",
                                                      contact: String? = "<sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws>",
                                                      expires: Int? = 600, cseq: UInt32 = 2, aor: String? = nil, now: NIODeadline? = nil,
                                                      connection: UInt64? = 9, source: String = "192.0.2.9") -> (answer: RegistrarAnswer, authorization: String) {
        let now = now ?? start
        let challenge = registrar.handle(register(user: aor ?? user, contact: contact, expires: expires, cseq: cseq - 1), source: source, connection: connection, now: now)
        XCTAssertEqual(challenge.response.statusCode, 401)
        var client = DigestClient(username: user, password: password)
        let credentials = client.answer(headerValues: challenge.response.headers.values("WWW-Authenticate"), method: "REGISTER", uri: "sip:tandem")!
        let answer = registrar.handle(register(user: aor ?? user, contact: contact, expires: expires, cseq: cseq, authorization: credentials.headerValue),
                                      source: source, connection: connection, now: now)
        return (answer, credentials.headerValue)
    }

    func testChallengesPutMD5WhereEachTransportsClientsLook() throws {
        // Over WebSocket: SHA-256 first (RFC 8760: the client takes the topmost it supports) and
        // MD5 last, the one JsSIP and SIP.js answer (their parsers keep the last WWW-Authenticate).
        let answer = registrar.handle(register(), source: "192.0.2.9", connection: 9, now: start)
        XCTAssertEqual(answer.response.statusCode, 401)
        let challenges = try answer.response.headers.values("WWW-Authenticate").map { try DigestChallenge(parsing: $0) }
        XCTAssertEqual(challenges.map(\.algorithm), [.sha256, .md5])
        XCTAssertEqual(challenges.map(\.realm), ["tandem", "tandem"])
        XCTAssertEqual(Set(challenges.map(\.nonce)).count, 1)
        XCTAssertNotNil(try answer.response.headers.to().tag)
        // Over UDP, TCP and TLS: MD5 first, the one sipp reads.
        for transport in ["UDP", "TCP", "TLS"] {
            let other = registrar.handle(register(transport: transport), source: "192.0.2.9", connection: 9, now: start)
            let offered = try other.response.headers.values("WWW-Authenticate").map { try DigestChallenge(parsing: $0).algorithm }
            XCTAssertEqual(offered, [.md5, .sha256], transport)
        }
    }

    func testRegistersListsAndExpiresBindings() throws {
        let answer = authenticatedRegister()
        XCTAssertEqual(answer.response.statusCode, 200)
        XCTAssertEqual(answer.response.headers.values("Contact"), ["<sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws>;expires=600"])
        XCTAssertEqual(registrar.contacts(of: "1001", now: start).map(\.connectionID), [9])
        registrar.expire(now: start + .seconds(601))
        XCTAssertEqual(registrar.bindings.count, 0)
    }

    func testExpiresIsCappedAndTooBriefIsRefused() {
        XCTAssertEqual(authenticatedRegister(expires: 99999).response.headers.values("Contact"),
                       ["<sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws>;expires=3600"])
        let brief = authenticatedRegister(expires: 30, cseq: 4)
        XCTAssertEqual(brief.response.statusCode, 423)
        XCTAssertEqual(brief.response.headers["Min-Expires"], "60")
    }

    func testUnregisterAndWildcard() {
        _ = authenticatedRegister()
        XCTAssertEqual(authenticatedRegister(expires: 0, cseq: 4).response.headers.values("Contact"), [])
        XCTAssertEqual(registrar.bindings.count, 0)
        _ = authenticatedRegister(cseq: 6)
        XCTAssertEqual(authenticatedRegister(contact: "*", expires: 0, cseq: 8).response.statusCode, 200)
        XCTAssertEqual(registrar.bindings.count, 0)
        XCTAssertEqual(authenticatedRegister(contact: "*", expires: 60, cseq: 10).response.statusCode, 400)
    }

    func testWrongPasswordIsForbiddenAndRepeatedFailuresAreSlowed() {
        var delays: [Duration] = []
        for attempt in 0..<6 {
            let answer = authenticatedRegister(password: "guess-\(attempt)", cseq: UInt32(2 + attempt * 2))
            XCTAssertEqual(answer.response.statusCode, 403)
            delays.append(answer.delay)
        }
        XCTAssertEqual(delays.first, .zero, "a first mistake is not punished")
        XCTAssertGreaterThan(delays.last!, .zero, "a source that keeps failing waits")
        XCTAssertEqual(registrar.bindings.count, 0)
    }

    func testAnotherUsersGoodLoginDoesNotResetTheSourcesCountAndTheTenthFailureLocksIt() {
        // The attack: three wrong guesses for 1001, a good login as 1002 from the same address,
        // and so on. The good logins buy nothing: the tenth failure locks the source.
        var statuses: [Int] = []
        var lockouts: [AuthenticationFailure.Locked] = []
        var cseq: UInt32 = 2
        for round in 0..<4 {
            for guess in 0..<3 {
                let answer = authenticatedRegister(password: "guess-\(round)-\(guess)", cseq: cseq)
                cseq += 2
                statuses.append(answer.response.statusCode)
                if let lockout = answer.failure?.lockout { lockouts.append(lockout.locked) }
            }
            if round < 3 { XCTAssertEqual(authenticatedRegister(user: "1002", password: "pw2", cseq: cseq).response.statusCode, 200) }
            cseq += 2
        }
        XCTAssertEqual(statuses, Array(repeating: 403, count: 12))
        XCTAssertEqual(lockouts, [.source], "one lock, at the tenth failure, of the source")
        // Locked: even the right password is refused without a look, for 1001 and for 1002.
        let locked = authenticatedRegister(cseq: cseq)
        XCTAssertEqual(locked.response.statusCode, 403)
        XCTAssertEqual(locked.response.reason, "Forbidden (too many failed attempts)")
        XCTAssertEqual(locked.failure?.reason, .lockedOut)
        XCTAssertEqual(authenticatedRegister(user: "1002", password: "pw2", cseq: cseq + 2).response.statusCode, 403)
        // Another address is not locked; the lock ends after a minute.
        XCTAssertEqual(authenticatedRegister(user: "1002", password: "pw2", cseq: cseq + 4, source: "192.0.2.10").response.statusCode, 200)
        XCTAssertEqual(authenticatedRegister(cseq: cseq + 6, now: start + .seconds(61)).response.statusCode, 200)
    }

    func testGuessesForOneUserFromManyAddressesLockTheUser() {
        var lockout: AuthenticationFailure.Locked?
        for attempt in 0..<20 {
            // Two guesses per address: no address comes near its own limit.
            let answer = authenticatedRegister(password: "guess-\(attempt)", cseq: UInt32(2 + attempt * 2), source: "198.51.100.\(attempt / 2)")
            XCTAssertEqual(answer.response.statusCode, 403)
            lockout = answer.failure?.lockout?.locked ?? lockout
        }
        XCTAssertEqual(lockout, .user)
        XCTAssertEqual(authenticatedRegister(cseq: 60, source: "203.0.113.1").failure?.reason, .lockedOut, "the user is locked from anywhere")
        XCTAssertEqual(authenticatedRegister(user: "1002", password: "pw2", cseq: 62, source: "203.0.113.1").response.statusCode, 200,
                       "other users are not")
    }

    func testAReplayedAuthorizationGetsAFreshChallengeNotARegistration() throws {
        let (first, authorization) = authenticatedRegisterWithCredentials()
        XCTAssertEqual(first.response.statusCode, 200)
        // The captured header, sent again as it was (same nonce, nc=00000001, same cnonce).
        let replay = registrar.handle(register(cseq: 3, authorization: authorization), source: "192.0.2.9", connection: 9, now: start + .seconds(1))
        XCTAssertEqual(replay.response.statusCode, 401)
        XCTAssertTrue(try replay.response.headers.values("WWW-Authenticate").map { try DigestChallenge(parsing: $0) }.allSatisfy(\.stale))
        XCTAssertEqual(replay.failure?.reason, .replay)
        // From another address the nonce is not even its own: a fresh challenge, no registration.
        let elsewhere = registrar.handle(register(cseq: 4, authorization: authorization), source: "203.0.113.5", connection: 10, now: start + .seconds(1))
        XCTAssertEqual(elsewhere.response.statusCode, 401)
        XCTAssertEqual(registrar.bindings.count, 1, "only the first registration holds")
    }

    func testUnknownUserAndForeignAddressOfRecord() {
        XCTAssertEqual(authenticatedRegister(user: "9999", password: "x").response.statusCode, 403)
        let foreign = authenticatedRegister(user: "1001", aor: "1002")
        XCTAssertEqual(foreign.response.statusCode, 403)
        XCTAssertEqual(foreign.response.reason, "Forbidden (may only register your own address)")
    }

    func testContactLimitPerUser() {
        XCTAssertEqual(authenticatedRegister(contact: "<sip:a@x.invalid>", cseq: 2).response.statusCode, 200)
        XCTAssertEqual(authenticatedRegister(contact: "<sip:b@x.invalid>", cseq: 4).response.statusCode, 200)
        XCTAssertEqual(authenticatedRegister(contact: "<sip:c@x.invalid>", cseq: 6).response.reason, "Forbidden (more than 2 registrations)")
    }

    func testClosedWebSocketDropsItsRegistrations() {
        _ = authenticatedRegister(connection: 9)
        registrar.connectionClosed(8)
        XCTAssertEqual(registrar.bindings.count, 1)
        registrar.connectionClosed(9)
        XCTAssertEqual(registrar.bindings.count, 0)
    }

    func testDigestURIMustBeTheRequestURI() {
        let challenge = registrar.handle(register(), source: "192.0.2.9", connection: 9, now: start)
        var client = DigestClient(username: "1001", password: "secret-1001")
        let credentials = client.answer(headerValues: challenge.response.headers.values("WWW-Authenticate"), method: "REGISTER", uri: "sip:elsewhere")!
        let answer = registrar.handle(register(cseq: 2, authorization: credentials.headerValue), source: "192.0.2.9", connection: 9, now: start)
        XCTAssertEqual(answer.response.statusCode, 400)
    }

    func testStaleNonceIsRechallengedWithStaleTrue() throws {
        let challenge = registrar.handle(register(), source: "192.0.2.9", connection: 9, now: start)
        var client = DigestClient(username: "1001", password: "secret-1001")
        let credentials = client.answer(headerValues: challenge.response.headers.values("WWW-Authenticate"), method: "REGISTER", uri: "sip:tandem")!
        let late = registrar.handle(register(cseq: 2, authorization: credentials.headerValue), source: "192.0.2.9", connection: 9, now: start + .seconds(3600))
        XCTAssertEqual(late.response.statusCode, 401)
        XCTAssertTrue(try late.response.headers.values("WWW-Authenticate").map { try DigestChallenge(parsing: $0) }.allSatisfy(\.stale))
    }
}
