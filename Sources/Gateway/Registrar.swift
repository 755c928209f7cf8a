// The registrar for web users (RFC 3261 §10.3): digest authentication against the user
// directory (RFC 8760: SHA-256 and MD5, 401 with stale=true for an expired nonce), a user may
// only register its own address-of-record, Expires and per-contact expires with Min-Expires (423),
// `Contact: *` removal. Against guessing and replay: failures slowed down and then locked out
// per source address and per user (a success resets neither), nonces bound to the address they
// were issued to, and nonce counts that must grow (a replayed Authorization gets a fresh
// challenge, not a registration). Sans-IO.

import NIOCore
import SIP
import TandemConfig

/// What the registrar answers, and how long to hold the answer back (failed attempts).
public struct RegistrarAnswer: Sendable {
    public var response: SIPResponse
    public var delay: Duration
    /// Set when credentials were given and refused (not for a challenge): for the security log.
    public var failure: AuthenticationFailure?

    public init(response: SIPResponse, delay: Duration, failure: AuthenticationFailure? = nil) {
        self.response = response
        self.delay = delay
        self.failure = failure
    }
}

/// Credentials that were refused: who they named and why, as the security log states it.
public struct AuthenticationFailure: Sendable, Equatable {
    public enum Reason: String, Sendable {
        case unknownUser = "unknown_user"
        case wrongPassword = "wrong_password"
        case malformed = "malformed_credentials"
        case uriMismatch = "digest_uri_mismatch"
        /// The source or the user is locked after too many failures: not checked.
        case lockedOut = "locked_out"
        /// A nonce count already used with this nonce: a captured header sent again.
        case replay = "nonce_replay"
    }

    public var username: String
    public var reason: Reason
    public enum Locked: String, Sendable { case source, user }
    /// What a failure locked, and the lock.
    public struct Lock: Sendable, Equatable {
        public var locked: Locked
        public var lock: AuthenticationFailureLimiter.Lockout
    }
    /// Set when this failure locked its source or user.
    public var lockout: Lock?

    public init(username: String, reason: Reason) {
        self.username = username
        self.reason = reason
    }
}

public struct Registrar: Sendable {
    private var web: WebSettings
    private var users: [String: WebUser]
    private var digest: DigestServer
    /// Failures per source address: slowed from the fourth, locked at the tenth.
    private var sources = AuthenticationFailureLimiter()
    /// Failures per user name, from anywhere: locked at the twentieth (a user can be locked by
    /// whoever knows its name, so later than a source, and for at most a quarter of an hour).
    private var usersLimiter = AuthenticationFailureLimiter(policy: .init(lockoutFailures: 20, maximumLockout: .seconds(900)))
    private var nonceCounts: NonceCountTracker
    public private(set) var bindings = RegistrationBindings()

    public init(web: WebSettings, users: [WebUser], digest: DigestServer? = nil) {
        self.web = web
        self.users = Dictionary(users.map { ($0.username, $0) }, uniquingKeysWith: { first, _ in first })
        let digest = digest ?? DigestServer(realm: web.realm, algorithms: web.digestAlgorithms)
        self.digest = digest
        nonceCounts = NonceCountTracker(lifetime: digest.nonceLifetime)
    }

    /// Applies a reloaded configuration; bindings of users that no longer exist are dropped.
    public mutating func reconfigure(web: WebSettings, users: [WebUser]) {
        if web.realm != self.web.realm || web.digestAlgorithms != self.web.digestAlgorithms {
            digest = DigestServer(realm: web.realm, algorithms: web.digestAlgorithms)
        }
        self.web = web
        self.users = Dictionary(users.map { ($0.username, $0) }, uniquingKeysWith: { first, _ in first })
        for aor in bindings.addressesOfRecord where self.users[aor] == nil { bindings.removeAll(aor: aor) }
    }

    public func contacts(of user: String, now: NIODeadline) -> [RegistrationBinding] { bindings.contacts(of: user, now: now) }

    public mutating func connectionClosed(_ connection: UInt64) { bindings.connectionClosed(connection) }

    public mutating func expire(now: NIODeadline) { bindings.expire(now: now) }

    /// Handles a REGISTER from `source` (an IP address, for failure accounting).
    public mutating func handle(_ request: SIPRequest, source: String, connection: UInt64?, now: NIODeadline) -> RegistrarAnswer {
        let toTag = String(UInt64.random(in: .min ... .max), radix: 36)
        func answer(_ code: Int, _ reason: String? = nil) -> RegistrarAnswer {
            RegistrarAnswer(response: request.makeResponse(code, reason: reason, toTag: toTag), delay: .zero)
        }

        let user: WebUser
        switch authenticate(request, source: source, toTag: toTag, now: now) {
        case .user(let found): user = found
        case .refused(let answer): return answer
        }

        // Authorization: a user registers its own address-of-record only.
        guard let to = try? request.headers.to(), to.uri.user == user.username else {
            return answer(403, "Forbidden (may only register your own address)")
        }
        let aor = user.username

        // Contacts (§10.3 steps 6-8).
        let contacts: [String]
        do {
            contacts = try request.headers.list("Contact")
        } catch {
            return answer(400, "Bad Request (malformed Contact)")
        }
        let defaultExpires = (try? request.headers.number("Expires")).flatMap { $0 }.map(Int.init) ?? web.maxExpires
        if contacts == ["*"] {
            guard defaultExpires == 0 else { return answer(400, "Bad Request (Contact: * needs Expires: 0)") }
            bindings.removeAll(aor: aor)
            return registered(request, aor: aor, toTag: toTag, now: now)
        }
        guard !contacts.contains("*") else { return answer(400, "Bad Request (Contact: * with other contacts)") }
        let callID = (try? request.headers.callID()) ?? ""
        let cseq = (try? request.headers.cseq().number) ?? 0
        for text in contacts {
            guard let contact = try? SIPNameAddress(parsing: text) else { return answer(400, "Bad Request (malformed Contact)") }
            var expires = defaultExpires
            if let value = contact.parameters["expires"] {
                guard let parsed = Int(value), parsed >= 0 else { return answer(400, "Bad Request (bad expires parameter)") }
                expires = parsed
            }
            let uri = contact.uri.description
            if expires == 0 {
                bindings.remove(aor: aor, contact: uri)
                continue
            }
            if expires < web.minExpires {
                var response = request.makeResponse(423, toTag: toTag)
                response.headers.add("Min-Expires", String(web.minExpires))
                return RegistrarAnswer(response: response, delay: .zero)
            }
            expires = min(expires, web.maxExpires)
            let binding = RegistrationBinding(contact: uri, connectionID: connection, expires: now + .seconds(Int64(expires)), callID: callID, cseq: cseq)
            switch bindings.update(aor: aor, binding: binding, limit: user.maxRegistrations, now: now) {
            case .updated: break
            case .outOfOrder: return answer(500, "Server Internal Error (out-of-order REGISTER)")
            case .tooManyContacts(let limit): return answer(403, "Forbidden (more than \(limit) registrations)")
            }
        }
        return registered(request, aor: aor, toTag: toTag, now: now)
    }

    /// The outcome of checking a request's digest credentials.
    public enum Authentication: Sendable {
        case user(WebUser)
        /// A challenge (401), or a refusal (400/403), to send instead of processing the request.
        case refused(RegistrarAnswer)
    }

    /// Checks the request's digest credentials against the user directory (§22.4): a 401
    /// challenge when there are none for our realm, 401 with stale=true for an expired nonce, 403
    /// for a wrong password or unknown user (slowed down for a source that keeps failing).
    public mutating func authenticate(_ request: SIPRequest, source: String, toTag: String, now: NIODeadline) -> Authentication {
        let credentials: DigestCredentials
        do {
            guard let found = try Registrar.credentials(in: request, realm: digest.realm) else {
                return .refused(challenge(request, toTag: toTag, stale: false, source: source, now: now))
            }
            credentials = found
        } catch {
            return .refused(RegistrarAnswer(response: request.makeResponse(400, reason: "Bad Request (malformed Authorization)", toTag: toTag), delay: .zero,
                                            failure: AuthenticationFailure(username: "", reason: .malformed)))
        }
        // The digest covers the digest-uri; it must name this request's Request-URI (RFC 7616 §3.4.6).
        guard let digestURI = try? SIPURI(parsing: credentials.uri), digestURI.isEquivalent(to: request.uri) else {
            return .refused(RegistrarAnswer(
                response: request.makeResponse(400, reason: "Bad Request (digest uri does not match the Request-URI)", toTag: toTag), delay: .zero,
                failure: AuthenticationFailure(username: credentials.username, reason: .uriMismatch)))
        }
        // A locked source or user is refused without a look at its credentials, right or not:
        // otherwise the guessing would go on behind the refusals.
        if sources.lockedUntil(source, now: now) != nil || usersLimiter.lockedUntil(credentials.username, now: now) != nil {
            return .refused(RegistrarAnswer(
                response: request.makeResponse(403, reason: "Forbidden (too many failed attempts)", toTag: toTag),
                delay: sources.delay(for: source, now: now), failure: AuthenticationFailure(username: credentials.username, reason: .lockedOut)))
        }
        guard let user = users[credentials.username] else {
            // Unknown names count against the source only: counting them per name would let a
            // flood of made-up names push real users out of the table.
            return .refused(failure(request, toTag: toTag, source: source, user: nil, now: now,
                                    AuthenticationFailure(username: credentials.username, reason: .unknownUser)))
        }
        switch digest.verify(credentials, method: request.method.rawValue, password: user.password, now: now, binding: source) {
        case .valid:
            guard let issued = digest.issueTime(ofNonce: credentials.nonce) else { break }
            switch nonceCounts.check(nonce: credentials.nonce, nc: credentials.nc, issued: issued, now: now) {
            case .accepted:
                return .user(user)
            case .unknown:
                return .refused(challenge(request, toTag: toTag, stale: true, source: source, now: now))
            case .replayed:
                // A fresh challenge: a client that reused its count by mistake answers it without
                // asking its user; a replayer, lacking the password, cannot.
                var answer = challenge(request, toTag: toTag, stale: true, source: source, now: now)
                var refusal = AuthenticationFailure(username: credentials.username, reason: .replay)
                refusal.lockout = sources.recordFailure(source: source, now: now).map { AuthenticationFailure.Lock(locked: .source, lock: $0) }
                answer.failure = refusal
                answer.delay = sources.delay(for: source, now: now)
                return .refused(answer)
            }
        case .stale:
            return .refused(challenge(request, toTag: toTag, stale: true, source: source, now: now))
        case .invalid:
            break
        }
        return .refused(failure(request, toTag: toTag, source: source, user: credentials.username, now: now,
                                AuthenticationFailure(username: credentials.username, reason: .wrongPassword)))
    }

    /// Whether a web user of this name exists.
    public func hasUser(_ name: String) -> Bool { users[name] != nil }

    /// 200 OK listing every current binding with its remaining time (§10.3 step 8).
    private func registered(_ request: SIPRequest, aor: String, toTag: String, now: NIODeadline) -> RegistrarAnswer {
        var response = request.makeResponse(200, toTag: toTag)
        for binding in bindings.contacts(of: aor, now: now) {
            let remaining = max(0, (binding.expires - now).nanoseconds / 1_000_000_000)
            response.headers.add("Contact", "<\(binding.contact)>;expires=\(remaining)")
        }
        return RegistrarAnswer(response: response, delay: .zero)
    }

    private func challenge(_ request: SIPRequest, toTag: String, stale: Bool, source: String, now: NIODeadline) -> RegistrarAnswer {
        var response = request.makeResponse(401, toTag: toTag)
        // Browsers' libraries send over WebSocket and answer the last challenge; sipp and older
        // stacks elsewhere answer the first.
        let transport = (try? request.headers.topVia().transport) ?? "UDP"
        let order: DigestServer.ChallengeOrder = transport == "WS" || transport == "WSS" ? .md5Last : .md5First
        for challenge in digest.challenges(now: now, stale: stale, order: order, binding: source) {
            response.headers.add("WWW-Authenticate", challenge.headerValue)
        }
        return RegistrarAnswer(response: response, delay: .zero)
    }

    /// Refused credentials: counted against the source and, when it names a real user, the user;
    /// the answer waits the source's delay.
    private mutating func failure(_ request: SIPRequest, toTag: String, source: String, user: String?, now: NIODeadline,
                                  _ failure: AuthenticationFailure) -> RegistrarAnswer {
        var failure = failure
        failure.lockout = sources.recordFailure(source: source, now: now).map { AuthenticationFailure.Lock(locked: .source, lock: $0) }
        if let user, let locked = usersLimiter.recordFailure(source: user, now: now) { failure.lockout = failure.lockout ?? AuthenticationFailure.Lock(locked: .user, lock: locked) }
        return RegistrarAnswer(response: request.makeResponse(403, reason: "Forbidden (bad credentials)", toTag: toTag),
                               delay: sources.delay(for: source, now: now), failure: failure)
    }

    /// The Authorization credentials for `realm`, if any; throws when one is malformed.
    static func credentials(in request: SIPRequest, realm: String) throws -> DigestCredentials? {
        for value in request.headers.values("Authorization") {
            let parsed: Result<DigestCredentials, DigestParseError> = Result { () throws(DigestParseError) in try DigestCredentials(parsing: value) }
            let credentials: DigestCredentials
            switch parsed {
            case .success(let value): credentials = value
            // Another scheme (RFC 4475 §3.3.11) is not ours to judge: challenge instead.
            case .failure(let error) where error.kind == .notDigestScheme: continue
            case .failure(let error): throw error
            }
            if credentials.realm == realm { return credentials }
        }
        return nil
    }
}
