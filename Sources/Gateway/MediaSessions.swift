// The session manager of a node with media: every SDP of a call passes through here, and the
// call's media (a WebRTC leg, an RTP leg and the bridge between them, on one worker loop) starts
// once both sides have answered.
//
//   browser calls out   offer(web)   the browser's offer is checked; a plain RTP/AVP offer with
//                                    the trunk's codecs goes to the trunk.
//                       answer(trunk) the trunk's codec decides: the browser offered it too, so
//                                    it is relayed; otherwise the browser gets Opus (told to
//                                    capture narrowband for a G.711 trunk) and Tandem transcodes.
//   trunk calls in      offer(trunk) the trunk's offer is checked; the browser gets a WebRTC
//                                    offer (a=setup:actpass) with the web profile's codecs.
//                       answer(web)  the trunk is answered with the browser's codec when it
//                                    offered that, else with its own preferred one.
//   re-INVITE           offer(side)  answered at once for that side with the codec in use
//                                    (hold, resume, ICE restart), and passed on as an offer with
//                                    the other side's codec; the other side's answer completes it.
//
// Ports come from the media interface's pool and return when the call's sockets are closed. A
// call is refused with 503 when the pool is empty or every worker loop is over the configured
// load, before anything else happens, so established calls are untouched.

import AudioCodecs
import DTLS
import ICE
import Logging
import MediaEngine
import NIOCore
import SDP
import Synchronization
import TandemConfig

/// Counters of the media side, for status and metrics.
public struct MediaSessionCounters: Sendable, Equatable {
    public var relayedCalls = 0
    public var transcodedCalls = 0
    public var refusedNoPorts = 0
    public var refusedOverload = 0
    /// Calls ended by a media failure, by ``MediaFailureCause/label``.
    public var mediaFailuresByCause: [String: Int] = [:]
    public var mediaFailures: Int { mediaFailuresByCause.values.reduce(0, +) }
    public init() {}
}

public final class MediaSessions: SessionManager {
    public let workers: MediaWorkers
    private let logger: Logger
    private let state: Mutex<State>
    private let failureHandler = Mutex<(@Sendable (String, MediaFailureCause) -> Void)?>(nil)
    /// Released calls' last figures, completed once each call's media is torn down; the CDR
    /// takes them (``finalInfo(call:)``).
    private let finals = Mutex<[String: EventLoopFuture<MediaCallInfo?>]>([:])

    struct State {
        var configuration: TandemConfiguration
        var pools: [String: PortPool] = [:]
        var certificates: [String: CertificateSource] = [:]
        var calls: [String: CallMedia] = [:]
        var counters = MediaSessionCounters()
    }

    public init(configuration: TandemConfiguration, workers: MediaWorkers, logger: Logger) throws {
        self.workers = workers
        self.logger = logger
        var state = State(configuration: configuration)
        for interface in configuration.media.interfaces {
            state.pools[interface.name] = PortPool(portMin: interface.portMin, portMax: interface.portMax)
        }
        state.certificates = try Self.certificates(for: configuration)
        self.state = Mutex(state)
    }

    /// Called with (call, cause) when a call's media fails: the signaling side ends the call.
    public func onMediaFailure(_ handler: @escaping @Sendable (String, MediaFailureCause) -> Void) {
        failureHandler.withLock { $0 = handler }
    }

    /// A reloaded configuration: profiles, trunks and timeouts apply to new calls. Port ranges
    /// and interfaces need a restart (their sockets and pools stay as they are).
    public func reconfigure(_ configuration: TandemConfiguration) throws {
        let certificates = try Self.certificates(for: configuration)
        state.withLock { state in
            let interfaces = state.configuration.media.interfaces
            state.configuration = configuration
            state.configuration.media.interfaces = interfaces
            // Files are read again (a renewed certificate at the same path is picked up for new
            // calls); a generated certificate is kept until its rotation.
            for (name, source) in certificates {
                if case .generated = source.origin, state.certificates[name]?.origin == source.origin { continue }
                state.certificates[name] = source
            }
        }
    }

    public var counters: MediaSessionCounters { state.withLock { $0.counters } }

    /// Calls with media running now.
    public var activeMedia: Int { state.withLock { $0.calls.values.filter { $0.media != nil }.count } }

    /// Ports free and in all, per media interface.
    public var portUsage: [String: (free: Int, capacity: Int)] {
        state.withLock { $0.pools.mapValues { ($0.available, $0.capacity) } }
    }

    /// The call's media detail (legs, counters, quality), when its media is running.
    public func status(call: String) async -> MediaCallStatus? {
        guard let media = state.withLock({ $0.calls[call]?.media }) else { return nil }
        return try? await media.status()
    }

    /// What a call's media agreed on, and its live status once its legs run.
    public func info(call id: String) async -> MediaCallInfo? {
        guard let (info, media) = state.withLock({ state -> (MediaCallInfo, MediaCall?)? in
            guard let call = state.calls[id] else { return nil }
            return (call.info, call.media)
        }) else { return nil }
        var result = info
        if let media { result.status = try? await media.status() }
        return result
    }

    /// Media status of every call with media, by call id.
    public func allStatus() async -> [String: MediaCallStatus] {
        let running = state.withLock { $0.calls.compactMapValues(\.media) }
        var result: [String: MediaCallStatus] = [:]
        for (id, media) in running { result[id] = try? await media.status() }
        return result
    }

    /// A DTMF digit the browser sent by SIP INFO, carried to the trunk as RFC 4733 events when
    /// the trunk negotiated telephone-event (otherwise the INFO is relayed).
    public func dtmf(call: String, digit: Character, durationMilliseconds: Int) -> Bool {
        guard let media = state.withLock({ state -> MediaCall? in
            guard let call = state.calls[call], call.trunkNegotiated?.telephoneEvent != nil else { return nil }
            return call.media
        }) else { return false }
        media.sendDigit(digit, durationMilliseconds: durationMilliseconds)
        return true
    }

    // MARK: SessionManager

    public func offer(_ sdp: [UInt8], call id: String, from side: CallSide, trunk: String?) -> SessionResult {
        let description: SessionDescription
        do {
            description = try SessionDescription(parsing: String(decoding: sdp, as: UTF8.self))
        } catch {
            return .rejected(warning: "the SDP cannot be parsed: \(error)")
        }
        return state.withLock { state -> SessionResult in
            if var call = state.calls[id] {
                let result = reoffer(description, call: &call, from: side, state: state)
                state.calls[id] = call
                return result
            }
            return newCall(description, id: id, from: side, trunkName: trunk, state: &state)
        }
    }

    public func answer(_ sdp: [UInt8], call id: String, from side: CallSide) -> SessionResult {
        let description: SessionDescription
        do {
            description = try SessionDescription(parsing: String(decoding: sdp, as: UTF8.self))
        } catch {
            return .rejected(warning: "the answer's SDP cannot be parsed: \(error)")
        }
        let (result, start) = state.withLock { state -> (SessionResult, MediaCallStart?) in
            guard var call = state.calls[id] else { return (.rejected(warning: "no media session for this call"), nil) }
            defer { state.calls[id] = call }
            if call.pending != nil { return (completeReoffer(description, call: &call, from: side), nil) }
            do {
                let start = try firstAnswer(description, call: &call, from: side, state: state)
                if start.plan.web.codec == start.plan.trunk.codec { state.counters.relayedCalls += 1 } else { state.counters.transcodedCalls += 1 }
                return (.sdp(Array(call.answerSent!.utf8)), start)
            } catch let error as SDPNegotiationError {
                return (.rejected(warning: error.reason), nil)
            } catch {
                return (.rejected(warning: "media setup failed: \(error)"), nil)
            }
        }
        if let start { launch(start, call: id) }
        return result
    }

    /// The call has ended: its last figures are taken, then its media is torn down (a call whose
    /// media is still starting is torn down by its start, once its sockets are open), and the
    /// figures wait for the CDR in that order.
    public func release(call id: String) {
        guard let (call, final) = state.withLock({ state -> (CallMedia, EventLoopPromise<MediaCallInfo?>)? in
            guard let call = state.calls[id], !call.released, let loop = call.loop else { return nil }
            state.calls[id]?.released = true
            return (call, loop.makePromise(of: MediaCallInfo?.self))
        }) else { return }
        finals.withLock { finals in
            finals[id] = final.futureResult
            if finals.count > 1000, let oldest = finals.keys.first { finals[oldest] = nil }  // nobody is taking them
        }
        final.completeWithTask {
            let info = await self.info(call: id)
            if call.media != nil || !call.starting { await self.teardown(id) }
            return info
        }
    }

    /// The figures of an ended call's media, once (for its CDR), when its teardown is done; nil
    /// for a call that never had media here (refused before its offer was taken).
    public func finalInfo(call id: String) async -> MediaCallInfo? {
        guard let final = finals.withLock({ $0.removeValue(forKey: id) }) else { return nil }
        return (try? await final.get()) ?? nil
    }

    /// Closes every call's media (at shutdown, after the calls have ended) and waits until each
    /// call's sockets are closed, those still opening included.
    public func closeAll() async {
        let (ids, starts) = state.withLock { state -> ([String], [Task<Void, Never>]) in
            for id in state.calls.keys { state.calls[id]?.released = true }
            return (Array(state.calls.keys), state.calls.values.compactMap { $0.starting ? $0.start : nil })
        }
        for id in ids { await teardown(id) }
        // A call whose sockets were still opening is closed by its start, which sees it released.
        for start in starts { await start.value }
        workers.stop()
    }

    // MARK: New calls

    private func newCall(_ offer: SessionDescription, id: String, from side: CallSide, trunkName: String?, state: inout State) -> SessionResult {
        let configuration = state.configuration
        let trunk = configuration.trunks.first { $0.name == trunkName }
        guard let webInterface = configuration.media.interfaces.first(where: { $0.name == configuration.web.mediaInterface }) ?? configuration.media.interfaces.first,
            let trunkInterface = configuration.media.interfaces.first(where: { $0.name == trunk?.mediaInterface }) ?? configuration.media.interfaces.first,
            let webProfile = configuration.codecProfiles.first(where: { $0.name == configuration.web.codecProfile }),
            let trunkProfile = configuration.codecProfiles.first(where: { $0.name == (trunk?.codecProfile ?? "g711") }),
            let dtlsProfile = configuration.dtlsProfiles.first(where: { $0.name == configuration.web.dtlsProfile }),
            let certificates = state.certificates[dtlsProfile.name]
        else { return .rejected(warning: "the media profiles of this call are not configured") }
        let certificate: DTLSCertificate
        do {
            certificate = try certificates.certificate(now: .now())
        } catch {
            return .rejected(warning: "no DTLS certificate: \(error)")
        }

        var call = CallMedia(
            id: id, trunk: trunk, webInterface: webInterface, trunkInterface: trunkInterface, webProfile: webProfile,
            trunkProfile: trunkProfile, dtlsProfile: dtlsProfile, certificate: certificate, node: configuration.node,
            mediaTimeout: configuration.media.rtpTimeout, strictSource: configuration.media.strictSource,
            readIntervals: (configuration.media.transcodedReadInterval, configuration.media.relayedReadInterval))

        // Check the offer before taking any resource: a bad offer is a 488 whatever the load.
        do {
            switch side {
            case .web:
                _ = try answerWebRTCOffer(offer, local: call.webLocal(port: 9), preferences: call.webPreferences(narrowband: false))
            case .trunk:
                _ = try answerPlainOffer(offer, address: trunkInterface.sdpAddress, port: 9, preferences: call.trunkPreferences(),
                                         origin: call.trunkOrigin)
            }
        } catch let error as SDPNegotiationError {
            return .rejected(warning: error.reason)
        } catch {
            return .rejected(warning: "\(error)")
        }

        // Resources: a worker loop under its load limit, then a port on each side.
        guard let (worker, loop) = workers.admit(maxLoad: Double(configuration.media.maxLoad) / 100) else {
            state.counters.refusedOverload += 1
            return .unavailable("media workers over their load limit")
        }
        guard let webPort = state.pools[webInterface.name]?.allocate() else {
            workers.release(worker)
            state.counters.refusedNoPorts += 1
            return .unavailable("no free media port")
        }
        guard let trunkPort = state.pools[trunkInterface.name]?.allocate() else {
            state.pools[webInterface.name]?.release(webPort)
            workers.release(worker)
            state.counters.refusedNoPorts += 1
            return .unavailable("no free media port")
        }
        call.worker = worker
        call.loop = loop
        call.webPort = Int(webPort)
        call.trunkPort = Int(trunkPort)
        // The browser may check before its answer reaches Tandem (calls toward it): listen now.
        let (address, port, logger) = (webInterface.address, Int(webPort), logger)
        call.listening = Task {
            do {
                return try await WebRTCLeg.listen(address: address, port: port, on: loop)
            } catch {
                logger.warning("cannot listen for the browser's media", metadata: ["call": "\(id)", "error": "\(error)"])
                return nil
            }
        }

        let offerForOtherSide: SessionDescription
        switch side {
        case .web:
            call.webOffer = offer
            offerForOtherSide = makePlainOffer(address: trunkInterface.sdpAddress, port: call.trunkPort, preferences: call.trunkPreferences(),
                                               origin: call.nextTrunkOrigin())
            call.ourTrunkOffer = offerForOtherSide
        case .trunk:
            call.trunkOffer = offer
            let offeredOpus = Self.offeredCodecs(offer).contains(.opus)
            offerForOtherSide = makeWebRTCOffer(local: call.webLocal(port: call.webPort),
                                                preferences: call.webPreferences(narrowband: !offeredOpus))
            call.ourWebOffer = offerForOtherSide
        }
        state.calls[id] = call
        return .sdp(Array(offerForOtherSide.serialized.utf8))
    }

    /// The first answer of a call: both sides are known, the media can start.
    private func firstAnswer(_ answer: SessionDescription, call: inout CallMedia, from side: CallSide, state: State) throws -> MediaCallStart {
        let webNegotiated: NegotiatedAudio
        let trunkNegotiated: NegotiatedAudio
        switch side {
        case .trunk:
            guard let ourOffer = call.ourTrunkOffer, let browserOffer = call.webOffer else { throw SDPNegotiationError(.invalidAnswer, "no offer to answer") }
            trunkNegotiated = try applyPlainAnswer(answer, to: ourOffer)
            var preferences = call.webPreferences(narrowband: trunkNegotiated.codec != .opus)
            if Self.offeredCodecs(browserOffer).contains(trunkNegotiated.codec) {
                preferences.codecs = [trunkNegotiated.codec] + preferences.codecs.filter { $0 == .telephoneEvent }
            }
            let (webAnswer, negotiated) = try answerWebRTCOffer(browserOffer, local: call.webLocal(port: call.webPort), preferences: preferences)
            webNegotiated = negotiated
            call.answerSent = webAnswer.serialized
        case .web:
            guard let ourOffer = call.ourWebOffer, let trunkOffer = call.trunkOffer else { throw SDPNegotiationError(.invalidAnswer, "no offer to answer") }
            webNegotiated = try applyWebRTCAnswer(answer, to: ourOffer)
            var preferences = call.trunkPreferences()
            if Self.offeredCodecs(trunkOffer).contains(webNegotiated.codec) {
                preferences.codecs = [webNegotiated.codec] + preferences.codecs.filter { $0 != webNegotiated.codec }
            }
            let (trunkAnswer, negotiated) = try answerPlainOffer(trunkOffer, address: call.trunkInterface.sdpAddress, port: call.trunkPort,
                                                                 preferences: preferences, origin: call.nextTrunkOrigin())
            trunkNegotiated = negotiated
            call.answerSent = trunkAnswer.serialized
        }
        call.webNegotiated = webNegotiated
        call.trunkNegotiated = trunkNegotiated
        return try call.makeStart()
    }

    private func launch(_ start: MediaCallStart, call id: String) {
        let logger = logger
        let failureHandler = failureHandler.withLock { $0 }
        let listening = state.withLock { $0.calls[id]?.listening }
        // The start is kept with the call, made under the lock so that a release or a shutdown
        // sees it: either finds the call starting, and the start finishes the teardown.
        state.withLock { state in
            state.calls[id]?.starting = true
            state.calls[id]?.start = Task { await self.start(start, call: id, listening: listening, logger: logger, failureHandler: failureHandler) }
        }
    }

    private func start(_ start: MediaCallStart, call id: String, listening: Task<WebRTCLeg?, Never>?, logger: Logger,
                       failureHandler: (@Sendable (String, MediaFailureCause) -> Void)?) async {
        let early = await listening?.value
        do {
            let media = try await MediaCall.start(
                plan: start.plan, webCore: start.webCore(), trunkCore: start.trunkCore(), on: start.loop, listening: early,
                onWebEvent: { event in
                    switch event {
                    case .selected(let address): logger.debug("ICE selected the browser's address", metadata: ["call": "\(id)", "remote": "\(address)"])
                    case .connected(let profile): logger.debug("DTLS connected", metadata: ["call": "\(id)", "srtp": "\(profile.rawValue)"])
                    case .failed: break
                    }
                },
                onFailure: { [weak self] cause in
                    // A call signaling has already ended has no media left to fail: its
                    // browser closed DTLS as it hung up, and the BYE won the race.
                    guard let self, self.state.withLock({ $0.calls[id].map { !$0.released } ?? false }) else { return }
                    self.failed(id, cause, handler: failureHandler)
                })
            let released = state.withLock { state -> Bool in
                state.calls[id]?.media = media
                state.calls[id]?.starting = false
                return state.calls[id]?.released ?? true
            }
            logger.debug("media started", metadata: ["call": "\(id)", "mode": "\(media.mode)",
                                                     "web": "\(start.plan.web.codec)", "trunk": "\(start.plan.trunk.codec)"])
            if released { await teardown(id) }
        } catch {
            await early?.close()
            logger.warning("media sockets could not be opened", metadata: ["call": "\(id)", "error": "\(error)"])
            let released = state.withLock { state -> Bool in
                state.calls[id]?.starting = false
                return state.calls[id]?.released ?? true
            }
            if released { await teardown(id) } else { failed(id, .socketError, handler: failureHandler) }
        }
    }

    /// A call's media failed: counted by cause, logged, and handed to the signaling side.
    private func failed(_ id: String, _ cause: MediaFailureCause, handler: (@Sendable (String, MediaFailureCause) -> Void)?) {
        state.withLock { $0.counters.mediaFailuresByCause[cause.label, default: 0] += 1 }
        logger.notice("media failed", metadata: ["call": "\(id)", "cause": "\(cause.label)", "reason": "\(cause.text)"])
        handler?(id, cause)
    }

    /// Closes the call's sockets, then returns its ports and its place on the worker loop.
    private func teardown(_ id: String) async {
        // Sockets still opening are closed by the task opening them, once they are open.
        guard let call = state.withLock({ $0.calls[id] }), !(call.starting && call.media == nil) else { return }
        if let media = call.media {
            await media.close()
        } else {
            await call.listening?.value?.close()
        }
        state.withLock { state in
            guard state.calls.removeValue(forKey: id) != nil else { return }
            state.pools[call.webInterface.name]?.release(UInt16(call.webPort))
            state.pools[call.trunkInterface.name]?.release(UInt16(call.trunkPort))
        }
        if let worker = call.worker { workers.release(worker) }
    }

    // MARK: Re-INVITEs

    /// A new offer on an established call: the answer for its side is made now (the codec in use,
    /// the new direction, new ICE credentials on an ICE restart) and the other side gets an offer.
    private func reoffer(_ offer: SessionDescription, call: inout CallMedia, from side: CallSide, state: State) -> SessionResult {
        guard let webNegotiated = call.webNegotiated, let trunkNegotiated = call.trunkNegotiated, call.pending == nil else {
            return .rejected(warning: "an offer is already in progress on this call")
        }
        do {
            switch side {
            case .web:
                var preferences = call.webPreferences(narrowband: trunkNegotiated.codec != .opus)
                preferences.codecs = [webNegotiated.codec] + preferences.codecs.filter { $0 == .telephoneEvent }
                let remote = offer.media.first { $0.media == "audio" }?.effectiveICECredentials(in: offer)
                let restart = remote != nil && remote?.ufrag != webNegotiated.remoteICE?.credentials.ufrag
                if restart { call.localICE = ICECredentials.generate() }
                call.webOrigin.sessionVersion += 1
                var local = call.webLocal(port: call.webPort)
                local.setupTowardActpass = webNegotiated.remoteDTLS?.localRole ?? .passive
                let (answer, negotiated) = try answerWebRTCOffer(offer, local: local, preferences: preferences)
                let direction = offer.media.first { $0.media == "audio" }.map { $0.effectiveDirection(in: offer) } ?? .sendrecv
                var trunkPreferences = call.trunkPreferences()
                trunkPreferences.codecs = [trunkNegotiated.codec] + trunkPreferences.codecs.filter { $0 == .telephoneEvent }
                let trunkOffer = makePlainOffer(address: call.trunkInterface.sdpAddress, port: call.trunkPort, preferences: trunkPreferences,
                                                origin: call.nextTrunkOrigin(), direction: direction)
                call.pending = PendingOffer(from: .web, answer: answer.serialized, ourOffer: trunkOffer, negotiated: negotiated,
                                            iceRestart: restart ? negotiated.remoteICE?.credentials : nil)
                return .sdp(Array(trunkOffer.serialized.utf8))
            case .trunk:
                var preferences = call.trunkPreferences()
                preferences.codecs = [trunkNegotiated.codec] + preferences.codecs.filter { $0 == .telephoneEvent }
                let (answer, negotiated) = try answerPlainOffer(offer, address: call.trunkInterface.sdpAddress, port: call.trunkPort,
                                                                preferences: preferences, origin: call.nextTrunkOrigin())
                let direction = offer.media.first { $0.media == "audio" }.map { $0.effectiveDirection(in: offer) } ?? .sendrecv
                var webPreferences = call.webPreferences(narrowband: trunkNegotiated.codec != .opus)
                webPreferences.codecs = [webNegotiated.codec] + webPreferences.codecs.filter { $0 == .telephoneEvent }
                call.webOrigin.sessionVersion += 1
                var local = call.webLocal(port: call.webPort)
                local.direction = direction
                var webOffer = makeWebRTCOffer(local: local, preferences: webPreferences)
                // A subsequent offer keeps the DTLS role in use (RFC 8842 §5.5), so the browser
                // does not start a new handshake.
                let role: SetupRole = webNegotiated.remoteDTLS?.localRole == .active ? .active : .passive
                for index in webOffer.media.indices {
                    webOffer.media[index].attributes = webOffer.media[index].attributes.map { $0.name == "setup" ? role.attribute : $0 }
                }
                call.pending = PendingOffer(from: .trunk, answer: answer.serialized, ourOffer: webOffer, negotiated: negotiated, iceRestart: nil)
                return .sdp(Array(webOffer.serialized.utf8))
            }
        } catch let error as SDPNegotiationError {
            return .rejected(warning: error.reason)
        } catch {
            return .rejected(warning: "\(error)")
        }
    }

    /// The other side's answer to a re-INVITE's offer: apply both sides' new state and return the
    /// answer made for the side that offered.
    private func completeReoffer(_ answer: SessionDescription, call: inout CallMedia, from side: CallSide) -> SessionResult {
        guard let pending = call.pending, pending.from != side else { return .rejected(warning: "no offer to answer") }
        call.pending = nil
        do {
            let trunkNegotiated: NegotiatedAudio
            var iceRestart: (local: ICECredentials, ufrag: String, password: String)?
            switch pending.from {
            case .web:
                trunkNegotiated = try applyPlainAnswer(answer, to: pending.ourOffer)
                call.webNegotiated = pending.negotiated
                if let restart = pending.iceRestart { iceRestart = (call.localICE, restart.ufrag, restart.pwd) }
            case .trunk:
                let webNegotiated = try applyWebRTCAnswer(answer, to: pending.ourOffer)
                if let old = call.webNegotiated?.remoteICE?.credentials, let new = webNegotiated.remoteICE?.credentials, old.ufrag != new.ufrag {
                    iceRestart = (call.localICE, new.ufrag, new.pwd)
                }
                call.webNegotiated = webNegotiated
                trunkNegotiated = pending.negotiated
            }
            call.trunkNegotiated = trunkNegotiated
            // Both legs change on the call's loop, in order: the ICE restart, then the trunk.
            let remote = trunkNegotiated.remoteAddress.flatMap { address in
                trunkNegotiated.remotePort.flatMap { try? SocketAddress(ipAddress: address, port: $0) }
            }
            call.media?.renegotiate(iceRestart: iceRestart, trunkRemote: remote, trunkDirection: RTPLegCore.Direction(trunkNegotiated.direction))
            return .sdp(Array(pending.answer.utf8))
        } catch let error as SDPNegotiationError {
            return .rejected(warning: error.reason)
        } catch {
            return .rejected(warning: "\(error)")
        }
    }

    // MARK: Helpers

    /// The codecs of the first audio m-line Tandem knows: by rtpmap, or by static payload type.
    static func offeredCodecs(_ description: SessionDescription) -> Set<AudioCodecName> {
        guard let audio = description.media.first(where: { $0.media == "audio" && $0.port != 0 }) else { return [] }
        var codecs: Set<AudioCodecName> = []
        for format in audio.formats {
            if let map = audio.rtpMaps.first(where: { String($0.payloadType) == format }) {
                if let codec = AudioCodecName.allCases.first(where: { $0.encodingName.lowercased() == map.encodingName.lowercased() }) { codecs.insert(codec) }
            } else if let codec = AudioCodecName.allCases.first(where: { $0.staticPayloadType.map(String.init) == format }) {
                codecs.insert(codec)
            }
        }
        return codecs
    }

    private static func certificates(for configuration: TandemConfiguration) throws -> [String: CertificateSource] {
        var sources: [String: CertificateSource] = [:]
        for profile in configuration.dtlsProfiles {
            switch profile.certificate {
            case .generated:
                sources[profile.name] = try CertificateSource(.generated(rotateEvery: .hours(24)), now: .now())
            case .files(let certificate, let privateKey):
                sources[profile.name] = try CertificateSource(.files(certificate: certificate, privateKey: privateKey), now: .now())
            }
        }
        return sources
    }
}

/// A re-INVITE's offer waiting for the other side's answer.
struct PendingOffer {
    var from: CallSide
    /// The answer already made for the offering side.
    var answer: String
    /// The offer sent to the other side.
    var ourOffer: SessionDescription
    /// What the offering side's new offer negotiated.
    var negotiated: NegotiatedAudio
    /// The browser's new ICE credentials when its offer restarts ICE.
    var iceRestart: SDPICECredentials?
}

/// What starting a call's media needs, taken out of the lock.
struct MediaCallStart: @unchecked Sendable {
    var plan: MediaCallPlan
    var loop: MediaLoop
    var webCore: () throws -> WebRTCLegCore
    var trunkCore: () -> RTPLegCore
}

extension RTPLegCore.Direction {
    init(_ direction: MediaDirection) {
        switch direction {
        case .sendrecv: self = .sendrecv
        case .sendonly: self = .sendonly
        case .recvonly: self = .recvonly
        case .inactive: self = .inactive
        }
    }
}

extension MediaInterface {
    /// The address written in SDP.
    var sdpAddress: String { advertisedAddress ?? address }
}
