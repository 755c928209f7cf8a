// The state Tandem keeps about one configured SIP trunk: whether it answers (OPTIONS keep-alive,
// RFC 3261 §11: any final response shows the peer is alive, no response within Timer F (§17.1.2.2)
// shows it is not) and, when configured, Tandem's own registration with it (§10.2: one Call-ID
// for all registrations, CSeq increasing, refresh before the granted expiry from the Contact
// `expires` parameter or the Expires header (§10.2.4), 423 answered with Min-Expires (§10.2.8),
// 401/407 answered once with digest credentials (§22.2, §22.3, RFC 7616), Expires: 0 to remove
// the binding (§10.2.2)). Failures are retried after a doubling back-off, honouring Retry-After
// (§20.33). Sans-IO: the caller passes time in, sends the returned requests as client
// transactions to the trunk and hands back their responses and Timer F expiries.
// Request construction and response reading are in TrunkMonitor+Messages.swift.

import NIOCore
import SIP
import TandemConfig

public struct TrunkMonitor: Sendable {
    public enum Availability: String, Sendable { case unknown, up, down }

    public enum Registration: Sendable, Equatable {
        /// Not configured (or removed at shutdown).
        case disabled
        /// Configured, no registration granted yet.
        case pending
        /// Granted until this time; a refresh is scheduled before it.
        case registered(until: NIODeadline)
        /// The last attempt failed; another follows after a back-off.
        case failed(status: Int, reason: String)
    }

    /// A change of availability, for the log.
    public struct AvailabilityChange: Sendable, Equatable {
        public var from: Availability
        public var to: Availability
        public var at: NIODeadline
        /// What caused it (`200 OK to OPTIONS`, `OPTIONS timed out`, …).
        public var reason: String
    }

    /// Back-off after the first failed registration; it doubles with each further failure.
    public static let initialBackoff: TimeAmount = .seconds(30)
    public static let maximumBackoff: TimeAmount = .seconds(600)
    /// A refresh is sent at least this long before the registration expires.
    public static let refreshMargin: TimeAmount = .seconds(5)
    /// A REGISTER with neither response nor reported timeout after this long is given up on
    /// (a safety net: the caller normally reports Timer F after 64*T1).
    public static let registerGiveUp: TimeAmount = .seconds(120)

    public private(set) var trunk: Trunk
    public private(set) var availability: Availability = .unknown
    public private(set) var registration: Registration
    public private(set) var lastChange: AvailabilityChange?
    /// Time from the latest OPTIONS to its final response.
    public private(set) var optionsRoundTrip: TimeAmount?

    let local: LocalEndpoint
    /// The From tag of every request of this monitor.
    let fromTag: String

    // OPTIONS keep-alive.
    var optionsCallID: String
    var optionsCSeq: UInt32 = 0
    var nextOptions: NIODeadline?
    var lastOptionsSent: NIODeadline?
    /// The CSeq whose outcome set `availability`; outcomes of older pings are ignored, so a ping
    /// timing out after a later one was answered does not mark the trunk down.
    var optionsOutcomeCSeq: UInt32 = 0
    /// The latest OPTIONS must be answered by then, or the trunk is down: sooner than Timer F
    /// (32 s), so calls stop going to a dead trunk within seconds.
    var optionsAnswerDeadline: NIODeadline?

    /// How long an OPTIONS may go unanswered: the ping interval, at most 5 s.
    var optionsAnswerWait: TimeAmount { .seconds(Int64(min(max(1, trunk.optionsInterval), 5))) }

    // Registration.
    enum Purpose: Sendable, Equatable { case register, unregister }

    /// One registration (or removal) attempt: the first REGISTER and the ones repeating it after
    /// a challenge or a 423.
    struct Attempt: Sendable {
        var purpose: Purpose
        var expires: Int
        /// CSeq of the REGISTER now outstanding.
        var cseq: UInt32
        var sentAt: NIODeadline
        /// Challenges answered so far, by the header they came in (WWW-Authenticate or
        /// Proxy-Authenticate); every later REGISTER of the attempt answers them again.
        var challenges: [String: [DigestChallenge]] = [:]
        /// Repeated challenges answered because they were marked stale.
        var staleAnswers = 0
        /// 423 responses answered.
        var intervalRetries = 0
    }

    var registerCallID: String
    var registerCSeq: UInt32 = 0
    var nextRegister: (at: NIODeadline, purpose: Purpose)?
    var attempt: Attempt?
    /// The expiry asked for: the configured one, raised by a registrar's Min-Expires.
    var requestedExpires: Int
    var failures = 0
    var digest: DigestClient?
    /// Set by `unregister(now:)`: no more registrations.
    var stopped = false

    public init(trunk: Trunk, local: LocalEndpoint, now: NIODeadline) {
        self.trunk = trunk
        self.local = local
        fromTag = Self.randomToken()
        optionsCallID = Self.newCallID()
        registerCallID = Self.newCallID()
        requestedExpires = trunk.registerExpires
        digest = Self.digestClient(for: trunk)
        registration = trunk.register ? .pending : .disabled
        if trunk.optionsInterval > 0 { nextOptions = now }
        if trunk.register { nextRegister = (now, .register) }
    }

    /// When `timeout(now:)` must next be called.
    public var nextDeadline: NIODeadline? {
        [nextOptions, optionsAnswerDeadline, nextRegister?.at, attempt.map { $0.sentAt + Self.registerGiveUp }].compactMap { $0 }.min()
    }

    /// Whether a response or timeout with this Call-ID belongs to this monitor.
    public func owns(callID: String) -> Bool { callID == optionsCallID || callID == registerCallID }

    /// Requests due now (an OPTIONS ping, a REGISTER or its refresh); the caller sends each as a
    /// client transaction to the trunk.
    public mutating func timeout(now: NIODeadline) -> [SIPRequest] {
        var requests: [SIPRequest] = []
        if let attempt, now >= attempt.sentAt + Self.registerGiveUp {
            registerFailed(status: 408, reason: "Request Timeout (no response from the trunk)", retryAfter: nil, now: now)
        }
        if let due = optionsAnswerDeadline, due <= now {
            optionsAnswerDeadline = nil
            optionsOutcomeCSeq = optionsCSeq
            setAvailability(.down, reason: "OPTIONS unanswered for \(optionsAnswerWait.nanoseconds / 1_000_000_000) s", now: now)
        }
        if let due = nextOptions, due <= now {
            let interval = TimeAmount.seconds(Int64(trunk.optionsInterval))
            // Keep the schedule unless the call came so late that it would fall behind.
            nextOptions = due + interval > now ? due + interval : now + interval
            lastOptionsSent = now
            requests.append(makeOptions())
            if optionsAnswerDeadline == nil { optionsAnswerDeadline = now + optionsAnswerWait }
        }
        if let due = nextRegister, due.at <= now {
            nextRegister = nil
            if let request = startAttempt(due.purpose, now: now) { requests.append(request) }
        }
        return requests
    }

    /// A final or provisional response to one of this monitor's requests, matched by Call-ID and
    /// CSeq. Returns the REGISTER to send again after a challenge or a 423, if any.
    public mutating func receive(_ response: SIPResponse, now: NIODeadline) -> [SIPRequest] {
        guard let callID = try? response.headers.callID(), let cseq = try? response.headers.cseq() else { return [] }
        if callID == optionsCallID, cseq.method == .options {
            optionsAnswered(response, cseq: cseq.number, now: now)
            return []
        }
        if callID == registerCallID, cseq.method == .register {
            return registerAnswered(response, cseq: cseq.number, now: now)
        }
        return []
    }

    /// A request of this monitor got no final response (Timer F).
    public mutating func timedOut(callID: String, cseq: UInt32, now: NIODeadline) {
        if callID == optionsCallID, cseq <= optionsCSeq, cseq >= optionsOutcomeCSeq {
            optionsOutcomeCSeq = cseq
            setAvailability(.down, reason: "OPTIONS timed out", now: now)
        } else if callID == registerCallID, let attempt, attempt.cseq == cseq {
            registerFailed(status: 408, reason: "Request Timeout (no response from the trunk)", retryAfter: nil, now: now)
        }
    }

    /// A REGISTER with Expires: 0 removing Tandem's binding, for shutdown; nothing when Tandem
    /// never registered with the trunk. No registration follows it.
    public mutating func unregister(now: NIODeadline) -> [SIPRequest] {
        let wasRegistering = trunk.register && !stopped && registerCSeq > 0
        stopped = true
        nextRegister = nil
        guard wasRegistering else {
            attempt = nil
            if registration != .disabled { registration = .disabled }
            return []
        }
        return startAttempt(.unregister, now: now).map { [$0] } ?? []
    }

    /// Applies reloaded trunk settings. A new address, port or transport starts over; new
    /// credentials start the registration over; otherwise state is kept and the new intervals
    /// apply from the next request. Turning registration off removes the binding (the REGISTER
    /// comes from the next `timeout(now:)`).
    public mutating func reconfigure(_ new: Trunk, now: NIODeadline) {
        let old = trunk
        trunk = new
        let destinationChanged = old.address != new.address || old.port != new.port || old.transport != new.transport

        // Keep-alive.
        if destinationChanged {
            optionsCallID = Self.newCallID()
            optionsCSeq = 0
            optionsOutcomeCSeq = 0
            lastOptionsSent = nil
            optionsAnswerDeadline = nil
            setAvailability(.unknown, reason: "trunk address changed", now: now)
            nextOptions = new.optionsInterval > 0 ? now : nil
        } else if old.optionsInterval != new.optionsInterval {
            if new.optionsInterval == 0 {
                nextOptions = nil
                optionsAnswerDeadline = nil
                setAvailability(.unknown, reason: "OPTIONS keep-alive turned off", now: now)
            } else if let last = lastOptionsSent, old.optionsInterval > 0 {
                let due = last + .seconds(Int64(new.optionsInterval))
                nextOptions = due > now ? due : now
            } else {
                nextOptions = now
            }
        }

        // Registration.
        if destinationChanged || old.credentials != new.credentials {
            restartRegistration(now: now)
        } else if old.register != new.register {
            if new.register {
                restartRegistration(now: now)
            } else if registerCSeq > 0 && !stopped {
                nextRegister = (now, .unregister)
            } else {
                registration = .disabled
            }
        } else if old.registerExpires != new.registerExpires {
            requestedExpires = new.registerExpires
        }
    }

    // MARK: Keep-alive

    private mutating func optionsAnswered(_ response: SIPResponse, cseq: UInt32, now: NIODeadline) {
        // A provisional response says little; wait for the final one or Timer F.
        guard !response.isProvisional, cseq <= optionsCSeq else { return }
        // Any final answer shows the trunk alive, even one to a ping given up on.
        if cseq == optionsCSeq { optionsAnswerDeadline = nil }
        guard cseq >= optionsOutcomeCSeq || availability == .down else { return }
        optionsOutcomeCSeq = cseq
        if cseq == optionsCSeq, let sent = lastOptionsSent { optionsRoundTrip = now - sent }
        // Even 404, 405 or 501 come from a live peer.
        setAvailability(.up, reason: "\(response.statusCode) \(response.reason) to OPTIONS", now: now)
    }

    private mutating func setAvailability(_ new: Availability, reason: String, now: NIODeadline) {
        guard new != availability else { return }
        lastChange = AvailabilityChange(from: availability, to: new, at: now, reason: reason)
        availability = new
    }

    // MARK: Registration

    private var wantsRegistration: Bool { trunk.register && !stopped }

    private mutating func restartRegistration(now: NIODeadline) {
        attempt = nil
        registerCallID = Self.newCallID()
        registerCSeq = 0
        failures = 0
        requestedExpires = trunk.registerExpires
        digest = Self.digestClient(for: trunk)
        if wantsRegistration {
            registration = .pending
            nextRegister = (now, .register)
        } else {
            registration = .disabled
            nextRegister = nil
        }
    }

    /// The first REGISTER of an attempt; an attempt still outstanding is abandoned.
    private mutating func startAttempt(_ purpose: Purpose, now: NIODeadline) -> SIPRequest? {
        guard purpose == .unregister || wantsRegistration else { return nil }
        attempt = Attempt(purpose: purpose, expires: purpose == .register ? requestedExpires : 0, cseq: 0, sentAt: now)
        return sendAttempt(now: now)
    }

    /// The next REGISTER of the current attempt, answering the challenges collected so far; nil
    /// (and the attempt failed) when a challenge cannot be answered.
    private mutating func sendAttempt(now: NIODeadline, status: Int = 401, reason: String = "Unauthorized") -> SIPRequest? {
        guard var current = attempt else { return nil }
        registerCSeq += 1
        current.cseq = registerCSeq
        current.sentAt = now
        var credentials: [(header: String, value: String)] = []
        for (challengeHeader, challenges) in current.challenges.sorted(by: { $0.key > $1.key }) {
            guard var client = digest else {
                registerFailed(status: status, reason: "\(reason) (no credentials configured for the trunk)", retryAfter: nil, now: now)
                return nil
            }
            guard let answer = client.answer(challenges, method: SIPMethod.register.rawValue, uri: registerRequestURI.description) else {
                let realms = Set(challenges.map(\.realm)).sorted().map { "\"\($0)\"" }.joined(separator: ", ")
                let expected = client.realm.map { ", expected \"\($0)\"" } ?? ""
                registerFailed(status: status, reason: "\(reason) (no acceptable challenge: realm \(realms)\(expected))", retryAfter: nil, now: now)
                return nil
            }
            digest = client
            credentials.append((challengeHeader == "WWW-Authenticate" ? "Authorization" : "Proxy-Authorization", answer.headerValue))
        }
        attempt = current
        return makeRegister(cseq: current.cseq, expires: current.expires, credentials: credentials)
    }

    private mutating func registerAnswered(_ response: SIPResponse, cseq: UInt32, now: NIODeadline) -> [SIPRequest] {
        guard var current = attempt, current.cseq == cseq, !response.isProvisional else { return [] }
        let code = response.statusCode
        switch code {
        case 200..<300:
            attempt = nil
            guard current.purpose == .register else {
                registration = .disabled
                return []
            }
            let granted = grantedExpiry(response, requested: current.expires)
            guard granted > 0 else {
                registerFailed(status: code, reason: "\(response.reason) (the registrar granted no time)", retryAfter: nil, now: now)
                return []
            }
            failures = 0
            registration = .registered(until: now + .seconds(Int64(granted)))
            if wantsRegistration { nextRegister = (now + Self.refreshDelay(granted: granted), .register) }
            return []

        case 401, 407:
            let challengeHeader = code == 401 ? "WWW-Authenticate" : "Proxy-Authenticate"
            let challenges = response.headers.values(challengeHeader).compactMap { try? DigestChallenge(parsing: $0) }
            if current.challenges[challengeHeader] != nil {
                // Already answered: a new challenge only when the old nonce merely expired.
                guard challenges.contains(where: \.stale), current.staleAnswers < 2 else {
                    registerFailed(status: code, reason: "\(response.reason) (credentials refused)", retryAfter: nil, now: now)
                    return []
                }
                current.staleAnswers += 1
            }
            guard !challenges.isEmpty else {
                registerFailed(status: code, reason: "\(response.reason) (no Digest challenge)", retryAfter: nil, now: now)
                return []
            }
            current.challenges[challengeHeader] = challenges
            attempt = current
            return sendAttempt(now: now, status: code, reason: response.reason).map { [$0] } ?? []

        case 423:
            let minimum = (try? response.headers.number("Min-Expires")).flatMap { $0 }.map(Int.init)
            guard current.purpose == .register, let minimum, minimum > current.expires, current.intervalRetries < 3 else {
                registerFailed(status: code, reason: "\(response.reason) (no usable Min-Expires)", retryAfter: nil, now: now)
                return []
            }
            current.intervalRetries += 1
            current.expires = minimum
            requestedExpires = minimum
            attempt = current
            return sendAttempt(now: now).map { [$0] } ?? []

        default:
            registerFailed(status: code, reason: response.reason, retryAfter: Self.retryAfter(response), now: now)
            return []
        }
    }

    /// Ends the current attempt as failed and schedules the next one after the back-off.
    private mutating func registerFailed(status: Int, reason: String, retryAfter: Int?, now: NIODeadline) {
        let purpose = attempt?.purpose ?? .register
        attempt = nil
        guard purpose == .register, wantsRegistration else {
            registration = .disabled
            return
        }
        failures += 1
        registration = .failed(status: status, reason: reason)
        var delay = Self.backoff(failures: failures)
        if let retryAfter {
            let requested = TimeAmount.seconds(Int64(min(retryAfter, 3600)))
            if requested > delay { delay = requested }
        }
        nextRegister = (now + delay, .register)
    }

    /// 30 s after the first failure, doubling up to 10 minutes.
    static func backoff(failures: Int) -> TimeAmount {
        let doublings = min(max(failures - 1, 0), 10)
        let delay = initialBackoff.nanoseconds << Int64(doublings)
        return .nanoseconds(min(delay, maximumBackoff.nanoseconds))
    }

    /// About 80 % of the granted time, at least `refreshMargin` before expiry, at least 1 s.
    static func refreshDelay(granted: Int) -> TimeAmount {
        let grantedNanoseconds = Int64(granted) * 1_000_000_000
        let delay = min(grantedNanoseconds / 5 * 4, grantedNanoseconds - refreshMargin.nanoseconds)
        return .nanoseconds(max(delay, 1_000_000_000))
    }
}
