import NIOCore
import SIP
import XCTest

final class DigestAuthenticationTests: XCTestCase {
    // MARK: RFC test vectors

    private let rfc7616Challenge = """
        Digest
            realm="http-auth@example.org",
            qop="auth, auth-int",
            algorithm=SHA-256,
            nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
        """
    private let rfc7616ClientNonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

    func testRFC7616MD5AndSHA256ResponsesMatchTheVectors() throws {
        for (algorithm, expected) in [
            (DigestAlgorithm.md5, "8ca523f5e9506fed4657c9700eebdbec"),
            (.sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ] {
            let response = try Digest.response(
                algorithm: algorithm, username: "Mufasa", realm: "http-auth@example.org", password: "Circle of Life",
                nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc: 1, cnonce: rfc7616ClientNonce, qop: "auth",
                method: "GET", uri: "/dir/index.html")
            XCTAssertEqual(response, expected, "\(algorithm)")
        }
    }

    func testClientAnswersTheRFC7616ChallengesWithTheVectorResponses() throws {
        let sha = try DigestChallenge(parsing: rfc7616Challenge)
        XCTAssertEqual(sha.qopOptions, ["auth", "auth-int"])
        var md5 = sha
        md5.algorithm = .md5
        let nonce = rfc7616ClientNonce
        var client = DigestClient(username: "Mufasa", password: "Circle of Life", clientNonce: { nonce })

        let shaAnswer = try XCTUnwrap(client.answer([md5, sha], method: "GET", uri: "/dir/index.html"))
        XCTAssertEqual(shaAnswer.algorithm, .sha256)
        XCTAssertEqual(shaAnswer.response, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        XCTAssertEqual(shaAnswer.qop, "auth")
        XCTAssertEqual(shaAnswer.nc, 1)
        XCTAssertEqual(shaAnswer.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")

        var fresh = DigestClient(username: "Mufasa", password: "Circle of Life", clientNonce: { nonce })
        let md5Answer = try XCTUnwrap(fresh.answer(md5, method: "GET", uri: "/dir/index.html"))
        XCTAssertEqual(md5Answer.response, "8ca523f5e9506fed4657c9700eebdbec")
    }

    func testRFC7616MD5AuthorizationParsesAndItsResponseRecomputes() throws {
        let credentials = try DigestCredentials(
            parsing: """
                Digest username="Mufasa",
                    realm="http-auth@example.org",
                    uri="/dir/index.html",
                    algorithm=MD5,
                    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                    nc=00000001,
                    cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                    qop=auth,
                    response="8ca523f5e9506fed4657c9700eebdbec",
                    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
                """)
        let recomputed = try Digest.response(
            algorithm: credentials.algorithm, username: credentials.username, realm: credentials.realm,
            password: "Circle of Life", nonce: credentials.nonce, nc: credentials.nc, cnonce: credentials.cnonce,
            qop: credentials.qop, method: "GET", uri: credentials.uri)
        XCTAssertEqual(recomputed, credentials.response)
    }

    func testRFC2617ExampleAuthorizationParsesAndItsResponseRecomputes() throws {
        let credentials = try DigestCredentials(
            parsing: """
                Digest username="Mufasa",
                     realm="testrealm@host.com",
                     nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                     uri="/dir/index.html",
                     qop=auth,
                     nc=00000001,
                     cnonce="0a4f113b",
                     response="6629fae49393a05397450978507c4ef1",
                     opaque="5ccc069c403ebaf9f0171e9517f40e41"
                """)
        XCTAssertEqual(credentials.algorithm, .md5)
        XCTAssertEqual(credentials.nc, 1)
        XCTAssertEqual(credentials.cnonce, "0a4f113b")
        let recomputed = try Digest.response(
            algorithm: .md5, username: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life",
            nonce: credentials.nonce, nc: credentials.nc, cnonce: credentials.cnonce, qop: credentials.qop,
            method: "GET", uri: credentials.uri)
        XCTAssertEqual(recomputed, "6629fae49393a05397450978507c4ef1")
    }

    func testResponseWithoutQOPFollowsRFC2069() throws {
        let response = try Digest.response(
            algorithm: .md5, username: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", nc: nil, cnonce: nil, qop: nil, method: "GET",
            uri: "/dir/index.html")
        XCTAssertEqual(response, "670fd8c2df070c60b045671b8b24ff02")
    }

    func testSessionAlgorithmsFoldTheNoncesIntoHA1() throws {
        for (algorithm, expected) in [
            (DigestAlgorithm.md5Sess, "31ad4e1b5409b69b1593d453df1e0857"),
            (.sha256Sess, "36505dad1b03a4e9f5b6848e6e8514202ce279b9b79d818668ee37bad0d65dad"),
        ] {
            let response = try Digest.response(
                algorithm: algorithm, username: "alice", realm: "atlanta.com", password: "secret", nonce: "abc",
                nc: 10, cnonce: "xyz", qop: "auth", method: "REGISTER", uri: "sip:atlanta.com")
            XCTAssertEqual(response, expected, "\(algorithm)")
        }
    }

    func testAuthIntAndMissingClientNonceAreRefused() {
        XCTAssertThrowsError(
            try Digest.response(
                algorithm: .md5, ha1: "x", nonce: "n", nc: 1, cnonce: "c", qop: "auth-int", method: "INVITE", uri: "sip:b")
        ) { XCTAssertEqual(($0 as? DigestError)?.kind, .unsupportedQOP) }
        XCTAssertThrowsError(
            try Digest.response(
                algorithm: .md5, ha1: "x", nonce: "n", nc: nil, cnonce: nil, qop: "auth", method: "INVITE", uri: "sip:b")
        ) { XCTAssertEqual(($0 as? DigestError)?.kind, .missingClientNonce) }
        XCTAssertThrowsError(
            try Digest.response(
                algorithm: .sha256Sess, ha1: "x", nonce: "n", nc: nil, cnonce: nil, qop: nil, method: "INVITE",
                uri: "sip:b")
        ) { XCTAssertEqual(($0 as? DigestError)?.kind, .missingClientNonce) }
    }

    // MARK: Client against server

    private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    private func server(lifetime: Duration = .seconds(300), algorithms: [DigestAlgorithm] = [.sha256, .md5]) -> DigestServer {
        DigestServer(realm: "tandem.example", secret: Array("a fixed test secret".utf8), nonceLifetime: lifetime, algorithms: algorithms)
    }

    func testServerOffersSHA256ThenMD5WithQOPAuthAndOneNonce() {
        let challenges = server().challenges(now: t0)
        XCTAssertEqual(challenges.map(\.algorithm), [.sha256, .md5])
        XCTAssertEqual(challenges.map(\.qopOptions), [["auth"], ["auth"]])
        XCTAssertEqual(Set(challenges.map(\.nonce)).count, 1)
        XCTAssertEqual(challenges.map(\.stale), [false, false])
        XCTAssertEqual(server().challenges(now: t0, stale: true).map(\.stale), [true, true])
        XCTAssertTrue(challenges[0].headerValue.hasPrefix("Digest realm=\"tandem.example\""))
    }

    func testClientAnswerToServerChallengeIsValid() throws {
        let server = server()
        var client = DigestClient(username: "alice", password: "wonderland")
        let headers = server.challenges(now: t0).map(\.headerValue)
        let answer = try XCTUnwrap(client.answer(headerValues: headers, method: "REGISTER", uri: "sip:tandem.example"))
        XCTAssertEqual(answer.algorithm, .sha256)
        // Through the wire format, as a real exchange would go.
        let received = try DigestCredentials(parsing: answer.headerValue)
        XCTAssertEqual(server.verify(received, method: "REGISTER", password: "wonderland", now: t0 + .seconds(1)), .valid)
        // The method is covered by the response.
        guard case .invalid = server.verify(received, method: "INVITE", password: "wonderland", now: t0) else {
            return XCTFail("a response for REGISTER must not verify for INVITE")
        }
    }

    func testMD5OnlyServerAcceptsMD5Answer() throws {
        let server = server(algorithms: [.md5])
        var client = DigestClient(username: "alice", password: "wonderland")
        let answer = try XCTUnwrap(client.answer(server.challenges(now: t0), method: "INVITE", uri: "sip:bob@tandem.example"))
        XCTAssertEqual(answer.algorithm, .md5)
        XCTAssertEqual(server.verify(answer, method: "INVITE", password: "wonderland", now: t0), .valid)
    }

    func testSessionAlgorithmRoundTripIsValid() throws {
        let server = server(algorithms: [.sha256Sess])
        var client = DigestClient(username: "alice", password: "wonderland")
        let answer = try XCTUnwrap(client.answer(server.challenges(now: t0), method: "INVITE", uri: "sip:bob@tandem.example"))
        XCTAssertEqual(server.verify(answer, method: "INVITE", password: "wonderland", now: t0), .valid)
    }

    func testServerAcceptsStoredHA1() throws {
        let server = server()
        var client = DigestClient(username: "alice", password: "wonderland")
        let answer = try XCTUnwrap(client.answer(server.challenges(now: t0), method: "REGISTER", uri: "sip:tandem.example"))
        let ha1 = Digest.ha1(algorithm: .sha256, username: "alice", realm: "tandem.example", password: "wonderland")
        XCTAssertEqual(server.verify(answer, method: "REGISTER", ha1: ha1, now: t0), .valid)
        let md5HA1 = Digest.ha1(algorithm: .md5, username: "alice", realm: "tandem.example", password: "wonderland")
        XCTAssertNotEqual(server.verify(answer, method: "REGISTER", ha1: md5HA1, now: t0), .valid)
    }

    func testWrongPasswordIsInvalid() throws {
        let server = server()
        var client = DigestClient(username: "alice", password: "guess")
        let answer = try XCTUnwrap(client.answer(server.challenges(now: t0), method: "REGISTER", uri: "sip:tandem.example"))
        XCTAssertEqual(
            server.verify(answer, method: "REGISTER", password: "wonderland", now: t0),
            .invalid(reason: "the response does not match"))
    }

    func testExpiredNonceWithRightPasswordIsStaleAndWithWrongPasswordInvalid() throws {
        let server = server(lifetime: .seconds(30))
        var client = DigestClient(username: "alice", password: "wonderland")
        let answer = try XCTUnwrap(client.answer(server.challenges(now: t0), method: "REGISTER", uri: "sip:tandem.example"))
        XCTAssertEqual(server.verify(answer, method: "REGISTER", password: "wonderland", now: t0 + .seconds(30)), .valid)
        XCTAssertEqual(server.verify(answer, method: "REGISTER", password: "wonderland", now: t0 + .seconds(31)), .stale)
        guard case .invalid = server.verify(answer, method: "REGISTER", password: "other", now: t0 + .seconds(31)) else {
            return XCTFail("a wrong password must not be reported as stale")
        }
    }

    func testTamperedOrForeignNonceIsInvalid() throws {
        let server = server()
        var client = DigestClient(username: "alice", password: "wonderland")
        var challenge = server.challenges(now: t0)[0]
        // Move the issue time forward by one: the MAC no longer matches.
        var nonce = Array(challenge.nonce.utf8)
        nonce[15] = nonce[15] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        challenge.nonce = String(decoding: nonce, as: UTF8.self)
        let tampered = try XCTUnwrap(client.answer(challenge, method: "REGISTER", uri: "sip:tandem.example"))
        XCTAssertEqual(
            server.verify(tampered, method: "REGISTER", password: "wonderland", now: t0 + .seconds(1)),
            .invalid(reason: "the nonce was not issued by this server"))

        let other = DigestServer(realm: "tandem.example")
        let foreign = try XCTUnwrap(client.answer(other.challenges(now: t0), method: "REGISTER", uri: "sip:tandem.example"))
        XCTAssertEqual(
            server.verify(foreign, method: "REGISTER", password: "wonderland", now: t0),
            .invalid(reason: "the nonce was not issued by this server"))

        challenge.nonce = "not-hex"
        let garbage = try XCTUnwrap(client.answer(challenge, method: "REGISTER", uri: "sip:tandem.example"))
        XCTAssertNotEqual(server.verify(garbage, method: "REGISTER", password: "wonderland", now: t0), .valid)
    }

    func testNonceFromTheFutureIsInvalid() throws {
        let server = server()
        var client = DigestClient(username: "alice", password: "wonderland")
        let answer = try XCTUnwrap(client.answer(server.challenges(now: t0 + .seconds(10)), method: "REGISTER", uri: "sip:x"))
        XCTAssertEqual(
            server.verify(answer, method: "REGISTER", password: "wonderland", now: t0),
            .invalid(reason: "the nonce was issued in the future"))
    }

    func testRealmMismatchIsRefusedOnBothSides() throws {
        let server = server()
        var strict = DigestClient(username: "alice", password: "wonderland", realm: "elsewhere.example")
        XCTAssertNil(strict.answer(server.challenges(now: t0), method: "REGISTER", uri: "sip:tandem.example"))
        var matching = DigestClient(username: "alice", password: "wonderland", realm: "tandem.example")
        XCTAssertNotNil(matching.answer(server.challenges(now: t0), method: "REGISTER", uri: "sip:tandem.example"))

        var client = DigestClient(username: "alice", password: "wonderland")
        var answer = try XCTUnwrap(client.answer(server.challenges(now: t0), method: "REGISTER", uri: "sip:tandem.example"))
        answer.realm = "elsewhere.example"
        guard case .invalid = server.verify(answer, method: "REGISTER", password: "wonderland", now: t0) else {
            return XCTFail("credentials for another realm must be refused")
        }
    }

    func testServerRefusesAlgorithmItDidNotOfferAndAuthInt() throws {
        let shaOnly = server(algorithms: [.sha256])
        var client = DigestClient(username: "alice", password: "wonderland")
        let md5Answer = try XCTUnwrap(
            client.answer(server(algorithms: [.md5]).challenges(now: t0), method: "REGISTER", uri: "sip:x"))
        XCTAssertEqual(
            shaOnly.verify(md5Answer, method: "REGISTER", password: "wonderland", now: t0),
            .invalid(reason: "algorithm MD5 is not offered"))

        var authInt = try XCTUnwrap(client.answer(shaOnly.challenges(now: t0), method: "REGISTER", uri: "sip:x"))
        authInt.qop = "auth-int"
        guard case .invalid = shaOnly.verify(authInt, method: "REGISTER", password: "wonderland", now: t0) else {
            return XCTFail("auth-int must be refused")
        }
    }

    func testClientCountsNoncesAndSkipsUnusableChallenges() throws {
        let server = server()
        var client = DigestClient(username: "alice", password: "wonderland")
        let challenges = server.challenges(now: t0)
        let first = try XCTUnwrap(client.answer(challenges, method: "REGISTER", uri: "sip:x"))
        let second = try XCTUnwrap(client.answer(challenges, method: "REGISTER", uri: "sip:x"))
        XCTAssertEqual([first.nc, second.nc], [1, 2])
        XCTAssertNotEqual(first.cnonce, second.cnonce)
        XCTAssertEqual(second.headerValue.contains("nc=00000002"), true)
        XCTAssertEqual(server.verify(second, method: "REGISTER", password: "wonderland", now: t0), .valid)

        let headers = [
            "Basic realm=\"x\"",
            "Digest realm=\"tandem.example\", nonce=\"n\", algorithm=SHA-512-256, qop=\"auth\"",
            "Digest realm=\"tandem.example\", nonce=\"n\", qop=\"auth-int\"",
            "Digest realm=\"tandem.example\", nonce=\"n\", algorithm=MD5, qop=\"auth\"",
        ]
        XCTAssertEqual(client.answer(headerValues: headers, method: "REGISTER", uri: "sip:x")?.algorithm, .md5)
        XCTAssertNil(client.answer(headerValues: Array(headers.prefix(3)), method: "REGISTER", uri: "sip:x"))
    }

    func testClientAnswersChallengeWithoutQOPInRFC2069Style() throws {
        var client = DigestClient(username: "Mufasa", password: "Circle Of Life")
        let challenge = try DigestChallenge(
            parsing: "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"")
        XCTAssertEqual(challenge.qopOptions, [])
        let answer = try XCTUnwrap(client.answer(challenge, method: "GET", uri: "/dir/index.html"))
        XCTAssertNil(answer.qop)
        XCTAssertNil(answer.nc)
        XCTAssertNil(answer.cnonce)
        XCTAssertEqual(answer.response, "670fd8c2df070c60b045671b8b24ff02")
    }

    // MARK: Parsing

    func testChallengeParsingToleratesCaseWhitespaceAndEscapes() throws {
        let challenge = try DigestChallenge(
            parsing: "digest  realm = \"say \\\"hi\\\" \\\\ there\" ,\tnonce=\"abc\",\r\n stale=TRUE,algorithm=sha-256,"
                + "qop=auth, domain=\"sip:a sip:b\", Charset=\"UTF-8\"")
        XCTAssertEqual(challenge.realm, "say \"hi\" \\ there")
        XCTAssertEqual(challenge.nonce, "abc")
        XCTAssertTrue(challenge.stale)
        XCTAssertEqual(challenge.algorithm, .sha256)
        XCTAssertEqual(challenge.qopOptions, ["auth"])
        XCTAssertEqual(challenge.domain, "sip:a sip:b")
        XCTAssertEqual(challenge.otherParameters, [DigestAuthParameter(name: "charset", value: "UTF-8")])
        XCTAssertNil(challenge.opaque)

        let plain = try DigestChallenge(parsing: "DIGEST realm=\"r\", nonce=\"n\", stale=false")
        XCTAssertEqual(plain.algorithm, .md5)
        XCTAssertFalse(plain.stale)
    }

    func testChallengeParsingErrors() {
        func kind(_ text: String) -> DigestParseError.Kind? {
            do {
                _ = try DigestChallenge(parsing: text)
                return nil
            } catch {
                return error.kind
            }
        }
        XCTAssertEqual(kind("Basic realm=\"r\""), .notDigestScheme)
        XCTAssertEqual(kind("Digest nonce=\"n\""), .missingParameter)
        XCTAssertEqual(kind("Digest realm=\"r\""), .missingParameter)
        XCTAssertEqual(kind("Digest realm=\"r\", nonce=\"n\", REALM=\"s\""), .duplicateParameter)
        XCTAssertEqual(kind("Digest realm=\"r, nonce=\"n\""), .malformed)
        XCTAssertEqual(kind("Digest realm=\"r\" nonce=\"n\""), .malformed)
        XCTAssertEqual(kind("Digest realm"), .malformed)
        XCTAssertEqual(kind("Digest realm=, nonce=\"n\""), .malformed)
        XCTAssertEqual(kind("Digest"), .malformed)
        XCTAssertEqual(kind(""), .malformed)
        XCTAssertEqual(kind("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256"), .invalidValue)
    }

    func testCredentialsParsingErrors() {
        func kind(_ text: String) -> DigestParseError.Kind? {
            do {
                _ = try DigestCredentials(parsing: text)
                return nil
            } catch {
                return error.kind
            }
        }
        let base = "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"00\""
        XCTAssertNil(kind(base))
        XCTAssertEqual(kind("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\""), .missingParameter)
        XCTAssertEqual(kind(base + ", qop=auth, nc=00000001"), .missingParameter)
        XCTAssertEqual(kind(base + ", qop=auth, cnonce=\"c\""), .missingParameter)
        XCTAssertEqual(kind(base + ", qop=auth, cnonce=\"c\", nc=1"), .invalidValue)
        XCTAssertEqual(kind(base + ", qop=auth, cnonce=\"c\", nc=+0000001"), .invalidValue)
        XCTAssertNil(kind(base + ", qop=auth, cnonce=\"c\", nc=0000000A"))
        XCTAssertEqual(kind(base + ", Username=\"b\""), .duplicateParameter)
    }

    func testChallengeSerializesAndParsesBack() throws {
        let challenge = DigestChallenge(
            realm: "we \"quote\" \\ things", nonce: "n0nce", opaque: "op", algorithm: .sha256Sess,
            qopOptions: ["auth", "auth-int"], stale: true, domain: "sip:a",
            otherParameters: [DigestAuthParameter(name: "charset", value: "UTF-8")])
        XCTAssertEqual(try DigestChallenge(parsing: challenge.headerValue), challenge)
        let minimal = DigestChallenge(realm: "r", nonce: "n", qopOptions: [])
        XCTAssertEqual(try DigestChallenge(parsing: minimal.headerValue), minimal)
    }

    func testCredentialsSerializeAndParseBack() throws {
        let credentials = DigestCredentials(
            username: "al\"ice", realm: "r", nonce: "n", uri: "sip:bob@example.com;transport=tcp", response: "abcdef",
            algorithm: .sha256, cnonce: "c", nc: 0x1_0a, qop: "auth", opaque: "o",
            otherParameters: [DigestAuthParameter(name: "userhash", value: "false")])
        XCTAssertTrue(credentials.headerValue.contains("nc=0000010a"))
        XCTAssertTrue(credentials.headerValue.contains("qop=auth"))
        XCTAssertEqual(try DigestCredentials(parsing: credentials.headerValue), credentials)
        let legacy = DigestCredentials(username: "a", realm: "r", nonce: "n", uri: "sip:x", response: "00")
        XCTAssertEqual(try DigestCredentials(parsing: legacy.headerValue), legacy)
    }

    // MARK: Failure limiter

    func testLimiterIsFreeForThreeFailuresThenDoublesToACeiling() {
        var limiter = AuthenticationFailureLimiter()
        var delays: [Duration] = []
        for i in 0..<10 {
            let now = t0 + .seconds(Int64(i))
            delays.append(limiter.delay(for: "192.0.2.1", now: now))
            limiter.recordFailure(source: "192.0.2.1", now: now)
        }
        delays.append(limiter.delay(for: "192.0.2.1", now: t0 + .seconds(10)))
        XCTAssertEqual(
            delays,
            [.zero, .zero, .zero, .zero, .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4),
             .seconds(8), .seconds(8)])
        XCTAssertEqual(limiter.delay(for: "192.0.2.2", now: t0), .zero)
    }

    func testLimiterForgetsAfterTheWindow() {
        var limiter = AuthenticationFailureLimiter(policy: .init(window: .seconds(60)))
        for _ in 0..<5 { limiter.recordFailure(source: "a", now: t0) }
        XCTAssertEqual(limiter.delay(for: "a", now: t0), .milliseconds(500))
        XCTAssertEqual(limiter.delay(for: "a", now: t0 + .seconds(60)), .milliseconds(500))
        XCTAssertEqual(limiter.delay(for: "a", now: t0 + .seconds(61)), .zero)
        // A failure after the window starts counting afresh.
        limiter.recordFailure(source: "a", now: t0 + .seconds(61))
        XCTAssertEqual(limiter.delay(for: "a", now: t0 + .seconds(61)), .zero)
        XCTAssertEqual(limiter.trackedSourceCount, 1)
        // Expired sources are dropped when others fail.
        limiter.recordFailure(source: "b", now: t0 + .seconds(200))
        XCTAssertEqual(limiter.trackedSourceCount, 1)
    }

    func testLimiterLocksAtTheTenthFailureAndDoublesEachLockInTheWindow() {
        var limiter = AuthenticationFailureLimiter()
        var lockouts: [AuthenticationFailureLimiter.Lockout] = []
        for i in 0..<10 {
            if let lockout = limiter.recordFailure(source: "a", now: t0 + .seconds(Int64(i))) { lockouts.append(lockout) }
        }
        XCTAssertEqual(lockouts, [.init(key: "a", until: t0 + .seconds(69), duration: .seconds(60), count: 1)], "the tenth failure locks, for a minute")
        XCTAssertEqual(limiter.lockedUntil("a", now: t0 + .seconds(68)), t0 + .seconds(69))
        XCTAssertNil(limiter.lockedUntil("b", now: t0 + .seconds(68)), "other sources are not locked")
        // Failures during the lock are not counted and start nothing.
        XCTAssertNil(limiter.recordFailure(source: "a", now: t0 + .seconds(30)))
        XCTAssertNil(limiter.lockedUntil("a", now: t0 + .seconds(69)), "the lock ends on time")
        // Ten more after it: locked again, for twice as long; then four times.
        var second: AuthenticationFailureLimiter.Lockout?
        for i in 0..<10 { second = limiter.recordFailure(source: "a", now: t0 + .seconds(70 + Int64(i))) ?? second }
        XCTAssertEqual(second?.duration, .seconds(120))
        XCTAssertEqual(second?.count, 2)
        var third: AuthenticationFailureLimiter.Lockout?
        for i in 0..<10 { third = limiter.recordFailure(source: "a", now: t0 + .seconds(200 + Int64(i))) ?? third }
        XCTAssertEqual(third?.duration, .seconds(240))
        // A long quiet spell after the last lock ends forgets the count: the next lock is a minute.
        var later: AuthenticationFailureLimiter.Lockout?
        for i in 0..<10 { later = limiter.recordFailure(source: "a", now: t0 + .seconds(2000 + Int64(i))) ?? later }
        XCTAssertEqual(later?.duration, .seconds(60))
    }

    func testLimiterLockCapsAtItsMaximum() {
        var limiter = AuthenticationFailureLimiter(policy: .init(lockoutFailures: 1, lockoutDuration: .seconds(60), maximumLockout: .seconds(200)))
        var durations: [Duration] = []
        var now = t0
        for _ in 0..<5 {
            guard let lockout = limiter.recordFailure(source: "a", now: now) else { return XCTFail("each failure after a lock locks again") }
            durations.append(lockout.duration)
            now = lockout.until
        }
        XCTAssertEqual(durations, [.seconds(60), .seconds(120), .seconds(200), .seconds(200), .seconds(200)])
    }

    // MARK: Nonce counts and binding

    func testNonceCountsMustGrowAndAResponseWithoutQOPIsGoodOnce() {
        var tracker = NonceCountTracker(lifetime: .seconds(300))
        XCTAssertEqual(tracker.check(nonce: "n1", nc: 1, issued: t0, now: t0), .accepted)
        XCTAssertEqual(tracker.check(nonce: "n1", nc: 1, issued: t0, now: t0), .replayed, "the same count again is a replay")
        XCTAssertEqual(tracker.check(nonce: "n1", nc: 3, issued: t0, now: t0), .accepted, "counts may skip")
        XCTAssertEqual(tracker.check(nonce: "n1", nc: 2, issued: t0, now: t0), .replayed, "but not go back")
        XCTAssertEqual(tracker.check(nonce: "n2", nc: 1, issued: t0, now: t0), .accepted, "each nonce counts for itself")
        XCTAssertEqual(tracker.check(nonce: "n3", nc: nil, issued: t0, now: t0), .accepted)
        XCTAssertEqual(tracker.check(nonce: "n3", nc: nil, issued: t0, now: t0), .replayed)
        XCTAssertEqual(tracker.check(nonce: "n4", nc: 0, issued: t0, now: t0), .replayed, "nc starts at 1")
        // Past their lifetime nonces are forgotten (the server calls them stale first).
        _ = tracker.check(nonce: "n5", nc: 1, issued: t0 + .seconds(400), now: t0 + .seconds(400))
        XCTAssertEqual(tracker.trackedNonceCount, 1)
    }

    func testAFullNonceTableDistrustsWhatItCanNoLongerVouchFor() {
        var tracker = NonceCountTracker(lifetime: .seconds(300), capacity: 2)
        XCTAssertEqual(tracker.check(nonce: "a", nc: 1, issued: t0, now: t0), .accepted)
        XCTAssertEqual(tracker.check(nonce: "b", nc: 1, issued: t0 + .seconds(1), now: t0 + .seconds(1)), .accepted)
        XCTAssertEqual(tracker.check(nonce: "c", nc: 1, issued: t0 + .seconds(2), now: t0 + .seconds(2)), .accepted)
        XCTAssertEqual(tracker.trackedNonceCount, 2)
        // "a" was dropped: sent again it is not a fresh first use but unknown (answered as stale).
        XCTAssertEqual(tracker.check(nonce: "a", nc: 1, issued: t0, now: t0 + .seconds(3)), .unknown)
        XCTAssertEqual(tracker.check(nonce: "b", nc: 1, issued: t0 + .seconds(1), now: t0 + .seconds(3)), .replayed)
    }

    func testANonceIsBoundToTheAddressItWasIssuedTo() throws {
        let server = server()
        var client = DigestClient(username: "alice", password: "wonderland")
        let answer = try XCTUnwrap(client.answer(server.challenges(now: t0, binding: "192.0.2.1"), method: "REGISTER", uri: "sip:tandem.example"))
        XCTAssertEqual(server.verify(answer, method: "REGISTER", password: "wonderland", now: t0, binding: "192.0.2.1"), .valid)
        XCTAssertEqual(server.verify(answer, method: "REGISTER", password: "wonderland", now: t0, binding: "198.51.100.7"), .stale,
                       "from elsewhere the right password earns only a fresh nonce")
        guard case .invalid = server.verify(answer, method: "REGISTER", password: "guess", now: t0, binding: "198.51.100.7") else {
            return XCTFail("a wrong password from elsewhere is refused")
        }
        let other = server.challenges(now: t0, binding: "192.0.2.1")[0].nonce
        XCTAssertNotEqual(other, answer.nonce, "two challenges in the same instant get different nonces")
    }

    func testLimiterEvictsTheOldestSourceWhenFull() {
        var limiter = AuthenticationFailureLimiter(policy: .init(freeFailures: 0, capacity: 3))
        for (i, source) in ["a", "b", "c"].enumerated() {
            limiter.recordFailure(source: source, now: t0 + .seconds(Int64(i)))
        }
        // "a" fails again, so "b" is now the least recent.
        limiter.recordFailure(source: "a", now: t0 + .seconds(3))
        limiter.recordFailure(source: "d", now: t0 + .seconds(4))
        XCTAssertEqual(limiter.trackedSourceCount, 3)
        XCTAssertEqual(limiter.delay(for: "b", now: t0 + .seconds(4)), .zero)
        XCTAssertEqual(limiter.delay(for: "a", now: t0 + .seconds(4)), .milliseconds(500))
        XCTAssertEqual(limiter.delay(for: "c", now: t0 + .seconds(4)), .milliseconds(250))
        XCTAssertEqual(limiter.delay(for: "d", now: t0 + .seconds(4)), .milliseconds(250))

        // Many distinct sources never grow the table past its capacity.
        for i in 0..<1000 { limiter.recordFailure(source: "s\(i)", now: t0 + .seconds(5)) }
        XCTAssertEqual(limiter.trackedSourceCount, 3)
    }
}
