// The ICE-lite agent (RFC 8445 §2.5, §6.1.1, §7.3) with consent freshness on the receiving side
// (RFC 7675 §5.1), sans-IO: datagrams and the time come in, responses, events and the next
// deadline go out.
//
// As a lite agent Tandem only answers connectivity checks, always in the controlled role:
// - A Binding request must carry FINGERPRINT (RFC 8445 §7.3; one failing it is not STUN, RFC
//   8489 §14.7, and is dropped silently), USERNAME "localUfrag:remoteUfrag" and
//   MESSAGE-INTEGRITY under the local password (short-term credentials, RFC 8489 §9.1.3).
//   Following §9.1.3, which RFC 8445 §7.3 defers to, a request lacking USERNAME or integrity is
//   answered 400, a wrong USERNAME or a failing integrity 401, both without MESSAGE-INTEGRITY;
//   they are counted, and their source is not permitted.
// - Unknown comprehension-required attributes get 420 with UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1.1).
// - ICE-CONTROLLED without ICE-CONTROLLING is a role conflict (§7.3.1.1). A lite agent must stay
//   controlled (§6.1.1), so it always takes the "retain the role" branch: 487 Role Conflict,
//   whatever the tie-breaker, which makes the full agent switch to controlling (§7.2.5.1).
// - A valid check is answered with XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT
//   (§7.3.1.2) and makes its source permitted: media only flows from and to addresses that have
//   proved knowledge of the credentials (RFC 8445 §7.3, RFC 7675 §1, RFC 8826 §4.2).
// - USE-CANDIDATE nominates the pair and the lite agent selects it at once (§7.3.1.5, §8.2); a
//   later nomination of another pair selects that one (renomination).
// - Every valid check on the selected pair refreshes consent; 30 s without one expire it
//   (RFC 7675 §5.1). Before any selection, ICE fails after an overall timeout (§8.3 leaves its
//   length to the agent; 30 s by default). Both are terminal until an ICE restart.
// - An ICE restart (§9) brings new local credentials and the remote's new ones. Until a check
//   under the new credentials succeeds, checks under the old ones are still honoured, and the
//   selected pair and its consent are kept throughout.

import NIOCore

/// What the agent reports to its driver.
public enum ICEEvent: Hashable, Sendable {
    /// A pair was nominated and selected; media goes to this remote address.
    case selected(ICETransportAddress)
    /// No pair was selected before the ICE timeout (RFC 8445 §8.3).
    case failed
    /// The selected pair went without a valid check for the consent timeout (RFC 7675 §5.1).
    case consentExpired
}

/// A datagram to send: from `source` (a local candidate) to `destination`.
public struct ICEOutgoingDatagram: Hashable, Sendable {
    public var bytes: [UInt8]
    public var source: ICETransportAddress
    public var destination: ICETransportAddress
}

/// The result of feeding the agent.
public struct ICEAgentOutput: Sendable {
    public var datagrams: [ICEOutgoingDatagram] = []
    public var events: [ICEEvent] = []
    /// When `timeout(now:)` must be called next; nil when nothing is pending.
    public var nextDeadline: NIODeadline?
}

/// Counters of what the agent has answered and refused.
public struct ICEAgentStatistics: Hashable, Sendable {
    /// Checks answered with success.
    public var validChecks = 0
    /// Requests without USERNAME or integrity, answered 400.
    public var badRequests = 0
    /// Requests with a wrong USERNAME or failing integrity, answered 401.
    public var unauthenticated = 0
    /// Authenticated requests with unknown comprehension-required attributes, answered 420.
    public var unknownAttributes = 0
    /// Authenticated requests claiming the controlled role, answered 487.
    public var roleConflicts = 0
    /// Datagrams dropped unanswered: not STUN, malformed, without a valid FINGERPRINT, not a
    /// Binding request, or arriving after the agent failed or consent expired.
    public var discarded = 0
    /// Requests from an address that has not passed a check, over its rate: dropped unread.
    public var policed = 0
    /// Error responses not sent because too many went out already (the request is counted
    /// under its reason all the same).
    public var errorsUnsent = 0

    public init() {}
}

/// A token bucket: `rate` tokens a second, holding at most `burst`; time is passed in.
public struct TokenBucket: Hashable, Sendable {
    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var last: NIODeadline?

    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
        tokens = burst
    }

    /// Takes a token if there is one.
    public mutating func take(now: NIODeadline) -> Bool {
        if let last, now > last { tokens = min(burst, tokens + Double((now - last).nanoseconds) / 1e9 * rate) }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// The agent's tunable times.
public struct ICELiteConfiguration: Hashable, Sendable {
    /// How long after start (or a restart without a selected pair) a pair must be selected.
    public var iceTimeout: TimeAmount
    /// How long the selected pair lives without a valid check (RFC 7675 §5.1: 30 s).
    public var consentTimeout: TimeAmount
    /// A SOFTWARE attribute for responses, if any.
    public var software: String?
    /// Requests a second from one address that has not passed a check yet (a browser's checks
    /// come a few a second; a flood from elsewhere is dropped unread), and the burst allowed.
    public var strangerRate: Double
    public var strangerBurst: Double
    /// Error responses a second in all, and the burst: a flood of bad checks (from spoofed
    /// addresses, say) gets no answer beyond this, so the port reflects nothing.
    public var errorRate: Double
    public var errorBurst: Double

    public init(iceTimeout: TimeAmount = .seconds(30), consentTimeout: TimeAmount = .seconds(30),
                software: String? = nil, strangerRate: Double = 20, strangerBurst: Double = 40,
                errorRate: Double = 20, errorBurst: Double = 40) {
        self.iceTimeout = iceTimeout
        self.consentTimeout = consentTimeout
        self.software = software
        self.strangerRate = strangerRate
        self.strangerBurst = strangerBurst
        self.errorRate = errorRate
        self.errorBurst = errorBurst
    }
}

/// A controlled ICE-lite agent for one component.
public struct ICELiteAgent: Sendable {
    public enum State: Hashable, Sendable {
        /// Answering checks, nothing selected yet.
        case checking
        /// A pair is selected and has consent.
        case connected
        /// Nothing was selected in time. Terminal until `restart`.
        case failed
        /// Consent for the selected pair lapsed. Terminal until `restart`.
        case consentExpired
    }

    private struct Generation: Sendable {
        var local: ICECredentials
        var remote: ICECredentials
        var username: String { local.ufrag + ":" + remote.ufrag }
    }

    public let configuration: ICELiteConfiguration
    public private(set) var localCandidates: [ICECandidate]
    public private(set) var state: State = .checking
    public private(set) var selectedPair: ICECandidatePair?
    public private(set) var statistics = ICEAgentStatistics()

    private var current: Generation
    /// The credentials before a restart, honoured until a check under the new ones succeeds.
    private var previous: Generation?
    private var permittedRemotes: Set<ICETransportAddress> = []
    private var checkingDeadline: NIODeadline?
    private var lastConsent: NIODeadline?
    /// Rate buckets of addresses that have not passed a check; at most `strangerTableSize`.
    private var strangers: [ICETransportAddress: TokenBucket] = [:]
    private static let strangerTableSize = 64
    private var errors: TokenBucket

    public var localCredentials: ICECredentials { current.local }
    public var remoteCredentials: ICECredentials { current.remote }
    /// The ICE role; always controlled for a lite agent (RFC 8445 §6.1.1).
    public var isControlling: Bool { false }

    /// An agent with given local credentials, started at `now`.
    public init(
        localUfrag: String, localPassword: String, remoteUfrag: String, remotePassword: String,
        localCandidates: [ICECandidate], now: NIODeadline, configuration: ICELiteConfiguration = .init()
    ) {
        self.configuration = configuration
        errors = TokenBucket(rate: configuration.errorRate, burst: configuration.errorBurst)
        self.localCandidates = localCandidates
        self.current = Generation(
            local: ICECredentials(ufrag: localUfrag, password: localPassword),
            remote: ICECredentials(ufrag: remoteUfrag, password: remotePassword))
        self.checkingDeadline = now + configuration.iceTimeout
    }

    /// An agent whose local credentials are drawn from `generator`, started at `now`.
    public init<R: RandomNumberGenerator>(
        remoteUfrag: String, remotePassword: String, localCandidates: [ICECandidate], now: NIODeadline,
        configuration: ICELiteConfiguration = .init(), using generator: inout R
    ) {
        let local = ICECredentials.generate(using: &generator)
        self.init(
            localUfrag: local.ufrag, localPassword: local.password, remoteUfrag: remoteUfrag,
            remotePassword: remotePassword, localCandidates: localCandidates, now: now,
            configuration: configuration)
    }

    /// An agent with local credentials from the system's secure generator.
    public init(
        remoteUfrag: String, remotePassword: String, localCandidates: [ICECandidate], now: NIODeadline,
        configuration: ICELiteConfiguration = .init()
    ) {
        var generator = SystemRandomNumberGenerator()
        self.init(
            remoteUfrag: remoteUfrag, remotePassword: remotePassword, localCandidates: localCandidates,
            now: now, configuration: configuration, using: &generator)
    }

    // MARK: Queries

    /// Whether media may be exchanged with `address`: it has sent a valid check, and the agent
    /// has neither failed nor lost consent.
    public func permitted(_ address: ICETransportAddress) -> Bool {
        switch state {
        case .checking, .connected: return permittedRemotes.contains(address)
        case .failed, .consentExpired: return false
        }
    }

    public func permitted(_ address: SocketAddress) -> Bool {
        guard let address = ICETransportAddress(address) else { return false }
        return permitted(address)
    }

    /// When `timeout(now:)` must next be called.
    public var nextDeadline: NIODeadline? {
        switch state {
        case .checking: return checkingDeadline
        case .connected: return lastConsent.map { $0 + configuration.consentTimeout }
        case .failed, .consentExpired: return nil
        }
    }

    // MARK: Input

    /// Handles a datagram the driver demultiplexed as STUN, received on `local` (the first
    /// local candidate when nil) from `remote`.
    public mutating func receive(
        _ datagram: [UInt8], from remote: ICETransportAddress, to local: ICETransportAddress? = nil,
        now: NIODeadline
    ) -> ICEAgentOutput {
        datagram.withUnsafeBytes { receive($0, from: remote, to: local, now: now) }
    }

    public mutating func receive(
        _ datagram: ByteBuffer, from remote: ICETransportAddress, to local: ICETransportAddress? = nil,
        now: NIODeadline
    ) -> ICEAgentOutput {
        datagram.withUnsafeReadableBytes { receive($0, from: remote, to: local, now: now) }
    }

    public mutating func receive(
        _ datagram: ByteBuffer, from remote: SocketAddress, to local: SocketAddress? = nil, now: NIODeadline
    ) -> ICEAgentOutput {
        guard let remoteAddress = ICETransportAddress(remote) else {
            statistics.discarded += 1
            return output()
        }
        return receive(datagram, from: remoteAddress, to: local.flatMap(ICETransportAddress.init), now: now)
    }

    public mutating func receive(
        _ datagram: UnsafeRawBufferPointer, from remote: ICETransportAddress, to local: ICETransportAddress? = nil,
        now: NIODeadline
    ) -> ICEAgentOutput {
        var result = output()
        guard state == .checking || state == .connected, STUNMessage.looksLikeSTUN(datagram),
            let request = try? STUNMessage.parse(datagram), request.type == .bindingRequest,
            request.verifyFingerprint()
        else {
            // Indications (keepalives), responses, and anything else are not answered.
            statistics.discarded += 1
            return result
        }
        // Policing before any HMAC: an address that has passed a check is never policed (the
        // browser keeps its consent under a flood); any other has its own bucket, so a flood
        // from one address cannot starve the browser's first checks from another. The table is
        // bounded: when full, a new address takes the place of an arbitrary old one.
        if !permittedRemotes.contains(remote) {
            if strangers[remote] == nil, strangers.count >= Self.strangerTableSize { strangers.remove(at: strangers.startIndex) }
            var bucket = strangers[remote] ?? TokenBucket(rate: configuration.strangerRate, burst: configuration.strangerBurst)
            let allowed = bucket.take(now: now)
            strangers[remote] = bucket
            guard allowed else {
                statistics.policed += 1
                return result
            }
        }
        let localAddress = local ?? localCandidates.first?.address ?? remote

        func respond(_ type: STUNMessageType, _ attributes: [STUNAttribute], password: String?) {
            if type == .bindingError {
                guard errors.take(now: now) else {
                    statistics.errorsUnsent += 1
                    return
                }
            }
            var response = STUNMessage(type: type, transactionID: request.transactionID, attributes: attributes)
            if let software = configuration.software { response.attributes.append(.software(software)) }
            let bytes = response.encode(integrityPassword: password, fingerprint: true)
            result.datagrams.append(ICEOutgoingDatagram(bytes: bytes, source: localAddress, destination: remote))
        }

        // RFC 8489 §9.1.3: USERNAME and integrity must be present, then match.
        guard let username = request.username, request.hasIntegrity else {
            statistics.badRequests += 1
            respond(.bindingError, [.errorCode(.badRequest)], password: nil)
            return result
        }
        let generation: Generation
        let isCurrent: Bool
        if username == current.username {
            generation = current
            isCurrent = true
        } else if let previous, username == previous.username {
            generation = previous
            isCurrent = false
        } else {
            statistics.unauthenticated += 1
            respond(.bindingError, [.errorCode(.unauthenticated)], password: nil)
            return result
        }
        guard request.verifyIntegrity(password: generation.local.password) else {
            statistics.unauthenticated += 1
            respond(.bindingError, [.errorCode(.unauthenticated)], password: nil)
            return result
        }

        let unknown = request.unknownComprehensionRequired
        guard unknown.isEmpty else {
            statistics.unknownAttributes += 1
            respond(.bindingError, [.errorCode(.unknownAttribute), .unknownAttributes(unknown)],
                    password: generation.local.password)
            return result
        }
        // §7.3.1.1: the peer thinks it is controlled too. A lite agent keeps its role.
        if request.iceControlling == nil, request.iceControlled != nil {
            statistics.roleConflicts += 1
            respond(.bindingError, [.errorCode(.roleConflict)], password: generation.local.password)
            return result
        }

        // A valid check (§7.3.1.2-§7.3.1.5).
        statistics.validChecks += 1
        respond(.bindingSuccess, [.xorMappedAddress(remote)], password: generation.local.password)
        if isCurrent, previous != nil {
            // The restart has taken: forget the old credentials and the addresses they admitted,
            // keeping the selected pair until the peer nominates another.
            previous = nil
            permittedRemotes = selectedPair.map { [$0.remote] } ?? []
        }
        permittedRemotes.insert(remote)
        strangers[remote] = nil

        let pair = ICECandidatePair(local: localAddress, remote: remote)
        if request.useCandidate, pair != selectedPair {
            selectedPair = pair
            state = .connected
            checkingDeadline = nil
            lastConsent = now
            result.events.append(.selected(remote))
        } else if pair == selectedPair {
            lastConsent = now
        }
        result.nextDeadline = nextDeadline
        return result
    }

    /// Fires the ICE and consent timers that are due at `now`.
    public mutating func timeout(now: NIODeadline) -> ICEAgentOutput {
        var result = output()
        switch state {
        case .checking:
            if let deadline = checkingDeadline, now >= deadline {
                state = .failed
                checkingDeadline = nil
                permittedRemotes.removeAll()
                result.events.append(.failed)
            }
        case .connected:
            if let last = lastConsent, now >= last + configuration.consentTimeout {
                state = .consentExpired
                selectedPair = nil
                lastConsent = nil
                permittedRemotes.removeAll()
                result.events.append(.consentExpired)
            }
        case .failed, .consentExpired:
            break
        }
        result.nextDeadline = nextDeadline
        return result
    }

    // MARK: ICE restart (RFC 8445 §9)

    /// Restarts ICE with new local credentials and the remote's new ones. A selected pair with
    /// consent is kept; otherwise the agent checks afresh with a new ICE timeout from `now`.
    public mutating func restart(
        localCredentials: ICECredentials, remoteUfrag: String, remotePassword: String, now: NIODeadline
    ) -> ICEAgentOutput {
        let next = Generation(local: localCredentials, remote: ICECredentials(ufrag: remoteUfrag, password: remotePassword))
        switch state {
        case .connected:
            previous = current
        case .checking:
            previous = current
            checkingDeadline = now + configuration.iceTimeout
        case .failed, .consentExpired:
            previous = nil
            permittedRemotes.removeAll()
            selectedPair = nil
            lastConsent = nil
            state = .checking
            checkingDeadline = now + configuration.iceTimeout
        }
        current = next
        return output()
    }

    /// Restarts with local credentials drawn from `generator`.
    public mutating func restart<R: RandomNumberGenerator>(
        remoteUfrag: String, remotePassword: String, now: NIODeadline, using generator: inout R
    ) -> ICEAgentOutput {
        restart(localCredentials: ICECredentials.generate(using: &generator), remoteUfrag: remoteUfrag,
                remotePassword: remotePassword, now: now)
    }

    /// Restarts with local credentials from the system's secure generator.
    public mutating func restart(remoteUfrag: String, remotePassword: String, now: NIODeadline) -> ICEAgentOutput {
        var generator = SystemRandomNumberGenerator()
        return restart(remoteUfrag: remoteUfrag, remotePassword: remotePassword, now: now, using: &generator)
    }

    private func output() -> ICEAgentOutput {
        ICEAgentOutput(nextDeadline: nextDeadline)
    }
}
