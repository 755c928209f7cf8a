// The running node: binds every listener, answers the control socket, reloads on SIGHUP (keeping
// the old configuration when the new one is broken), and drains on SIGTERM. It is the one owner
// of the node-wide state the control socket reports.

import AudioCodecs
import Control
import DTLS
import Foundation
import Gateway
import Logging
import MediaEngine
import NIOCore
import NIOPosix
import RTP
import SIPTransport
import SRTP
import ServiceLifecycle
import TandemConfig
import TestEndpoints
import UnixSignals

actor Daemon: ControlCommandHandler {
    struct Overrides: Sendable {
        var logLevel: Logger.Level?
        var controlSocket: String?
    }

    private let configPath: String
    private let overrides: Overrides
    private let group: MultiThreadedEventLoopGroup
    private let notifier: SystemdNotifier
    private let threshold: LogThreshold
    let logger: Logger
    /// The SIP trace (Daemon+Trace.swift).
    let tracer: SIPTracer
    private let startedAt = Date()
    private let startedMonotonic = ContinuousClock.now

    private var configuration: TandemConfiguration
    private var generation = 1
    private var lastReload: StatusReport.Reload?
    private var workers: Int

    private var state: GatewayState = .running
    let health = HealthState()
    private var sipTransport: SIPTransportLayer?
    private var signaling: SignalingEngine?
    fileprivate var media: MediaSessions?
    private var mediaLoops: MediaLoopGroup?
    private var sipEvents: Task<Void, Never>?
    private var healthServer: HealthServer?
    private var controlServer: ControlServer?
    private var testEndpoints: TestEndpointServer?
    private let cdrs = CDRWriter()
    private let metrics = TandemMetrics()
    private var endedMedia = MediaTotals()
    var recentCallRing = RecentCallRing()

    init(
        configPath: String, configuration: TandemConfiguration, overrides: Overrides, group: MultiThreadedEventLoopGroup,
        workers: Int, notifier: SystemdNotifier, threshold: LogThreshold, logger: Logger
    ) {
        self.configPath = configPath
        self.configuration = Daemon.applying(overrides, to: configuration)
        self.overrides = overrides
        self.group = group
        self.workers = workers
        self.notifier = notifier
        self.threshold = threshold
        self.logger = logger
        self.tracer = SIPTracer(group: group, logger: logger)
    }

    private static func applying(_ overrides: Overrides, to configuration: TandemConfiguration) -> TandemConfiguration {
        var result = configuration
        if let socket = overrides.controlSocket { result.control.socketPath = socket }
        return result
    }

    // MARK: Start

    /// Binds SIP listeners, the HTTP listener and the control socket; all or nothing.
    func bindAll() async throws {
        do {
            let specs = configuration.sip.listeners.map {
                SIPListenerSpec(transport: $0.transport, address: $0.address, port: $0.port,
                                certificatePath: $0.certificate, privateKeyPath: $0.privateKey)
            }
            var options = startTrace(configuration.trace)
            options.maximumDatagramSize = configuration.sip.maxUDPMessageSize
            options.maximumConnections = connectionCap(configuration.sip.maxConnections)
            options.maximumConnectionsPerSource = configuration.sip.maxConnectionsPerSource
            options.firstMessageTimeout = TimeAmount(configuration.sip.firstMessageTimeout)
            let transport = try await SIPTransportLayer.start(specs, group: group, logger: logger, options: options)
            sipTransport = transport
            // Media has its own loops, one thread each: signaling and HTTP stay on NIO's group.
            let loops = try MediaLoopGroup(threads: workers)
            mediaLoops = loops
            let sessions = try MediaSessions(configuration: configuration, workers: MediaWorkers(group: loops), logger: logger)
            media = sessions
            let engine = SignalingEngine(transport: transport, configuration: configuration, logger: logger, sessions: sessions)
            sessions.onMediaFailure { call, cause in
                Task { await engine.endCall(call, mediaFailure: cause) }
            }
            openCDRs()
            await engine.onCallEnded { [weak self] records in
                Task { await self?.recordEnded(records) }
            }
            signaling = engine
            sipEvents = Task.detached { await engine.run() }
            if let http = configuration.http {
                let phone = http.demoPhone
                    ? DemoPhoneSettings(sockets: transport.bound.filter(\.transport.isWebSocket).map {
                        DemoPhoneSettings.Socket(scheme: $0.transport.rawValue, port: $0.port)
                    })
                    : nil
                healthServer = try await HealthServer.bind(
                    host: http.address, port: http.port, group: group, state: health, demoPhone: phone,
                    metrics: { [weak self] in await self?.metricsText() ?? "" })
                let port = healthServer?.localAddress?.port ?? http.port
                logger.info("HTTP listening", metadata: ["address": "\(http.address)", "port": "\(port)"])
                if http.demoPhone {
                    logger.notice("demo phone served", metadata: ["url": "http://\(http.address.contains(":") ? "[\(http.address)]" : http.address):\(port)/phone/"])
                }
            }
            if let settings = configuration.testEndpoints {
                let endpoints = try await TestEndpointServer.start(
                    address: settings.address, port: settings.port, rtpPorts: settings.rtpPortMin...settings.rtpPortMax,
                    userAgent: configuration.sip.userAgent + " test endpoints", group: group, logger: logger)
                testEndpoints = endpoints
                logger.notice("test endpoints listening", metadata: [
                    "address": "\(settings.address)", "port": "\(endpoints.port)",
                    "numbers": "\(TestEndpointKind.allCases.map(\.rawValue).joined(separator: ","))",
                ])
            }
            controlServer = try await ControlServer.bind(
                path: configuration.control.socketPath, mode: configuration.control.mode, group: group,
                handler: self, logger: logger)
            logger.info("control socket ready", metadata: ["path": "\(configuration.control.socketPath)"])
        } catch {
            await closeListeners()
            throw error
        }
    }

    /// Tells systemd the node is up. Called from inside the service group, so SIGTERM and SIGHUP
    /// handlers are in place before anyone is told to send them.
    func announceReady() {
        notifier.notify("READY=1\nMAINPID=\(getpid())\nSTATUS=\(statusLine())")
        logger.notice("ready", metadata: ["node": "\(configuration.node)", "config": "\(configPath)"])
    }

    private func statusLine() -> String {
        let listeners = (sipTransport?.bound ?? []).map { "\($0.transport.rawValue):\($0.port)" }.joined(separator: " ")
        return "running; listening on \(listeners)"
    }

    // MARK: Reload

    /// Loads the configuration file again. A broken file is rejected with its errors logged and
    /// the running configuration kept; settings that need new sockets wait for a restart.
    func reload() async {
        notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())\nSTATUS=reloading configuration")
        logger.notice("reloading configuration", metadata: ["config": "\(configPath)"])
        do {
            let loaded = try ConfigurationLoader().load(path: configPath)
            let next = Daemon.applying(overrides, to: loaded.configuration)
            for warning in loaded.warnings { logger.warning("\(warning)") }
            let pending = Daemon.changesNeedingRestart(from: configuration, to: next)
            for change in pending { logger.warning("\(change) changed; the change takes effect at the next restart") }
            reloadTrace(from: configuration.trace, to: next.trace)
            configuration = next
            openCDRs()
            do {
                try media?.reconfigure(next)
            } catch {
                logger.error("a DTLS certificate of the new configuration cannot be loaded; new calls keep the old one",
                             metadata: ["error": "\(error)"])
            }
            await signaling?.reconfigure(next)
            generation += 1
            threshold.level = overrides.logLevel ?? Logger.Level(next.logLevel)
            lastReload = StatusReport.Reload(at: Date(), succeeded: true, messages: pending.map { "\($0) changed; restart to apply" })
            logger.notice("configuration reloaded", metadata: ["generation": "\(generation)"])
        } catch {
            for diagnostic in error.diagnostics {
                if diagnostic.severity == .error { logger.error("\(diagnostic)") } else { logger.warning("\(diagnostic)") }
            }
            logger.error("new configuration rejected; keeping the running one", metadata: ["generation": "\(generation)"])
            lastReload = StatusReport.Reload(at: Date(), succeeded: false, messages: error.errors.map(\.description))
        }
        notifier.notify("READY=1\nSTATUS=\(statusLine())")
    }

    /// Settings bound to sockets or threads at start, which a reload cannot change in place.
    static func changesNeedingRestart(from old: TandemConfiguration, to new: TandemConfiguration) -> [String] {
        var changes: [String] = []
        if old.sip.listeners.map(\.endpoint) != new.sip.listeners.map(\.endpoint)
            || old.sip.listeners.map(\.certificate) != new.sip.listeners.map(\.certificate) {
            changes.append("sip.listeners")
        }
        if old.http.map({ "\($0.address):\($0.port) \($0.demoPhone)" }) != new.http.map({ "\($0.address):\($0.port) \($0.demoPhone)" }) {
            changes.append("http")
        }
        if old.control != new.control { changes.append("control") }
        if old.sip.maxUDPMessageSize != new.sip.maxUDPMessageSize { changes.append("sip.max_udp_message_size") }
        if old.sip.maxConnections != new.sip.maxConnections { changes.append("sip.max_connections") }
        if old.sip.maxConnectionsPerSource != new.sip.maxConnectionsPerSource { changes.append("sip.max_connections_per_source") }
        if old.sip.firstMessageTimeout != new.sip.firstMessageTimeout { changes.append("sip.first_message_timeout") }
        if old.workers != new.workers { changes.append("workers") }
        if old.testEndpoints.map({ "\($0.address):\($0.port) \($0.rtpPortMin)-\($0.rtpPortMax)" })
            != new.testEndpoints.map({ "\($0.address):\($0.port) \($0.rtpPortMin)-\($0.rtpPortMax)" }) {
            changes.append("test_endpoints")
        }
        let interfaces = { (c: TandemConfiguration) in c.media.interfaces.map { "\($0.name) \($0.address) \($0.portMin)-\($0.portMax)" } }
        if interfaces(old) != interfaces(new) { changes.append("media.interfaces") }
        return changes
    }

    // MARK: Shutdown

    /// Stops taking calls, waits for them up to the drain timeout, ends the rest, and closes
    /// every listener.
    func drainAndStop() async {
        notifier.notify("STOPPING=1\nSTATUS=draining")
        health.startDraining()
        let timeout = configuration.drainTimeout
        logger.notice("shutting down: draining calls", metadata: ["timeout": "\(timeout.secondsText)"])
        state = .draining
        let stopTimeout = StopTimeoutExtension.start(notifier: notifier, drainTimeout: timeout)
        let outcome = await signaling?.drain(timeout: timeout) ?? DrainOutcome(endedNaturally: 0, endedByDeadline: 0)
        stopTimeout?.cancel()
        logger.notice("drain complete", metadata: [
            "ended_naturally": "\(outcome.endedNaturally)", "ended_at_deadline": "\(outcome.endedByDeadline)",
        ])
        await closeListeners()
    }

    private func closeListeners() async {
        await sipTransport?.close()
        await sipEvents?.value
        await healthServer?.close()
        await controlServer?.close()
        await media?.closeAll()
        await mediaLoops?.shutdown()
        mediaLoops = nil
        await stopTrace()
        await testEndpoints?.close()
        testEndpoints = nil
        sipTransport = nil
        sipEvents = nil
        healthServer = nil
        controlServer = nil
    }

    // MARK: Status

    func status() async -> StatusReport {
        let calls = await signaling?.activeCalls ?? 0
        let registered = await signaling?.registrations ?? 0
        let trunkStates = await signaling?.trunkStates
        let http = healthServer?.localAddress.map {
            StatusReport.Listener(transport: "http", address: configuration.http?.address ?? "", port: $0.port ?? 0)
        }
        return StatusReport(
            version: TandemVersion.current, node: configuration.node, pid: getpid(), state: state.rawValue,
            startedAt: startedAt, uptimeSeconds: (ContinuousClock.now - startedMonotonic).seconds,
            configFile: configPath, configFiles: [configuration.file] + configuration.includedFiles,
            configGeneration: generation, lastReload: lastReload,
            listeners: (sipTransport?.bound ?? []).map {
                StatusReport.Listener(transport: $0.transport.rawValue, address: $0.address, port: $0.port)
            },
            http: http, controlSocket: configuration.control.socketPath, workers: workers,
            logLevel: threshold.level.rawValue, activeCalls: calls, registrations: registered,
            trunks: configuration.trunks.count, trunkStates: trunkStates, users: configuration.users.count,
            mediaPorts: configuration.media.interfaces.reduce(0) { $0 + PortPool(portMin: $1.portMin, portMax: $1.portMax).capacity },
            media: mediaCounters(),
            libraries: [
                "openssl": OpenSSLLibrary.version, "libsrtp2": SRTPLibrary.version, "libopus": OpusLibrary.version,
                "spandsp": "spandsp \(SpanDSPLibrary.release)",
            ])
    }
}

// MARK: - CDRs

extension Daemon {
    /// (Re)opens the CDR file named by the configuration: at start and at every reload.
    func openCDRs() {
        do {
            try cdrs.open(configuration.cdrFile)
        } catch {
            logger.error("cannot open the CDR file; no CDRs are written", metadata: ["path": "\(configuration.cdrFile ?? "")", "error": "\(error)"])
        }
    }

    func recordEnded(_ records: [CallRecord]) async {
        for record in records {
            let info = record.refused ? nil : await media?.finalInfo(call: record.id)
            let legs = info.flatMap { info in info.status.map { Self.legs(info, $0) } } ?? []
            if let status = info?.status {
                endedMedia.add(status)
                if let handshake = status.web.dtlsHandshakeMilliseconds { metrics.recordHandshake(milliseconds: handshake) }
            }
            let cdr = CDRWriter.record(record, media: info, legs: legs, node: configuration.node, date: { Self.date(of: $0) })
            rememberRecent(cdr)
            if !record.refused {
                metrics.recordEnded(EndedCallFigures(
                    trunk: record.trunk ?? "", talkSeconds: record.answeredAt != nil ? cdr.talkSeconds : nil,
                    legs: legs.filter { $0.received.packets > 0 }.map {
                        EndedCallFigures.Leg(side: $0.side, mos: $0.mos, lossRatio: $0.received.lossFraction,
                                             jitterSeconds: $0.received.jitterMilliseconds.map { $0 / 1000 })
                    }))
                // Refused attempts were logged ("call refused") where they were refused.
                var metadata: Logger.Metadata = [
                    "call": "\(record.id)", "caller": "\(record.caller)", "callee": "\(record.callee)",
                    "by": "\(record.endedBy ?? "")", "reason": "\(record.endReason ?? "")", "result": "\(record.result)",
                    "status": "\(record.status.map(String.init) ?? "-")", "duration_seconds": "\(cdr.durationSeconds)",
                    "talk_seconds": "\(cdr.talkSeconds)", "sip_call_id": "\(record.sipCallID)",
                ]
                if let trunk = record.trunk { metadata["trunk"] = "\(trunk)" }
                if let cause = record.endCause { metadata["cause"] = "\(cause)" }
                logger.info("call ended", metadata: metadata)
            }
            guard cdrs.path != nil else { continue }
            do {
                try cdrs.write(cdr)
            } catch {
                logger.error("cannot write a CDR", metadata: ["call": "\(record.id)", "error": "\(error)"])
            }
        }
    }
}

// MARK: - Descriptors

extension Daemon {
    /// `sip.max_connections`, or half of the descriptors this process may open if that is less:
    /// the other half stays for media sockets (two per call), so a connection flood cannot starve
    /// calls. The soft limit is raised to the hard one first (a shell's 1024 would otherwise cap
    /// a daemon started by hand at a few hundred calls).
    func connectionCap(_ configured: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return configured }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        guard limit.rlim_cur != rlim_t.max else { return configured }  // RLIM_INFINITY
        let half = max(1, Int(limit.rlim_cur / 2))
        guard configured > half else { return configured }
        logger.warning("sip.max_connections is more than half the open-file limit; the rest is kept for media", metadata: [
            "max_connections": "\(configured)", "open_file_limit": "\(limit.rlim_cur)", "applied": "\(half)",
        ])
        return half
    }
}

// MARK: - Metrics

extension Daemon {
    /// The Prometheus text exposition, gathered now.
    func metricsText() async -> String {
        var snapshot = MetricsSnapshot()
        if let signaling {
            snapshot.activeCalls = await signaling.activeCalls
            let counters = await signaling.counters
            snapshot.calls = counters.calls
            snapshot.requestsByMethod = counters.requestsByMethod
            snapshot.responsesByCode = counters.responsesByCode
            snapshot.responsesSentByCode = counters.responsesSentByCode
            snapshot.registrations = await signaling.registrations
            for trunk in await signaling.trunkList {
                snapshot.trunkCalls[trunk.name] = trunk.activeCalls
                if trunk.availability != "unchecked" { snapshot.trunksUp[trunk.name] = trunk.availability == "up" }
            }
        }
        if let media {
            var totals = endedMedia
            for status in await media.allStatus().values { totals.add(status) }
            snapshot.media = totals.values
            let counters = media.counters
            snapshot.relayedCalls = counters.relayedCalls
            snapshot.transcodedCalls = counters.transcodedCalls
            snapshot.refusedNoPorts = counters.refusedNoPorts
            snapshot.refusedOverload = counters.refusedOverload
            snapshot.mediaFailures = counters.mediaFailuresByCause
            snapshot.workerLoads = media.workers.loads.map(\.load)
            let ports = media.portUsage.values
            snapshot.portsInUse = ports.reduce(0) { $0 + $1.capacity - $1.free }
            snapshot.portCapacity = ports.reduce(0) { $0 + $1.capacity }
        }
        if let dropped = sipTransport?.dropped {
            snapshot.sipDroppedDatagrams = Dictionary(uniqueKeysWithValues: dropped.datagrams.map { ($0.key.rawValue, $0.value) })
            snapshot.sipDroppedEvents = dropped.events
        }
        if let connections = sipTransport?.connections {
            snapshot.sipConnectionsClosed = Dictionary(uniqueKeysWithValues: connections.closed.map { ($0.key.rawValue, $0.value) })
            snapshot.sipConnectionsOpen = connections.open
        }
        snapshot.draining = state == .draining
        return metrics.render(snapshot)
    }
}

// MARK: - Control commands

extension Daemon {
    /// Wall-clock time of a monotonic instant (for call listings and CDRs).
    nonisolated static func date(of deadline: NIODeadline, now: NIODeadline = .now(), wall: Date = Date()) -> Date {
        wall.addingTimeInterval(-Double((now - deadline).nanoseconds) / 1e9)
    }

    func calls() async -> [CallSummary] {
        guard let signaling else { return [] }
        var result: [CallSummary] = []
        for record in await signaling.callRecords {
            let info = await media?.info(call: record.id)
            result.append(Self.summary(record, info: info))
        }
        return result
    }

    /// A call by its id, or by the id without its "@node" suffix (as `tandemctl calls` shows it).
    func record(_ id: String) async -> CallRecord? {
        await signaling?.callRecords.first { $0.id == id || $0.id.hasPrefix(id + "@") }
    }

    func call(_ id: String) async -> CallDetail? {
        guard let record = await record(id) else { return nil }
        let id = record.id
        let info = await media?.info(call: id)
        var legs: [LegDetail] = []
        var bridge: [String: Int] = [:]
        if let info, let status = info.status {
            legs = Self.legs(info, status)
            bridge = [
                "relayed": status.bridge.relayed, "transcoded_frames": status.bridge.transcodedFrames,
                "concealed_frames": status.bridge.concealedFrames, "fec_frames": status.bridge.fecRecoveredFrames,
                "dtmf_packets": status.bridge.dtmfPackets, "inband_digits": status.bridge.inbandDigits, "dropped": status.bridge.dropped,
            ]
        }
        return CallDetail(summary: Self.summary(record, info: info), startedAt: Self.date(of: record.startedAt),
                          answeredAt: record.answeredAt.map { Self.date(of: $0) }, legs: legs, bridge: bridge)
    }

    func hangUp(_ id: String) async -> Bool {
        guard let record = await record(id) else { return false }
        return await signaling?.hangUp(record.id) ?? false
    }

    func registrations() async -> [RegistrationInfo] {
        (await signaling?.registrationBindings ?? []).map { RegistrationInfo(user: $0.user, contact: $0.contact, expiresInSeconds: $0.expiresIn) }
    }

    func trunks() async -> [TrunkInfo] {
        (await signaling?.trunkList ?? []).map {
            TrunkInfo(name: $0.name, address: $0.address, availability: $0.availability, registration: $0.registration,
                      optionsRoundTripMilliseconds: $0.optionsRoundTripMilliseconds, activeCalls: $0.activeCalls, maxCalls: $0.maxCalls)
        }
    }

    func setDraining(_ draining: Bool) async -> String {
        await signaling?.setAdmitting(!draining)
        if draining {
            health.startDraining()
            state = .draining
            logger.notice("draining by operator request: new calls get 503")
            return "draining: new calls get 503, \(await signaling?.activeCalls ?? 0) calls in progress go on"
        }
        health.stopDraining()
        state = .running
        logger.notice("taking calls again")
        return "taking calls again"
    }

    func reloadConfiguration() async -> (ok: Bool, message: String) {
        await reload()
        guard let lastReload else { return (false, "no reload happened") }
        if lastReload.succeeded {
            let pending = lastReload.messages.isEmpty ? "" : "; " + lastReload.messages.joined(separator: "; ")
            return (true, "configuration reloaded (generation \(generation))" + pending)
        }
        return (false, "configuration refused, the running one is kept: " + lastReload.messages.joined(separator: "; "))
    }

    static func summary(_ record: CallRecord, info: MediaCallInfo?) -> CallSummary {
        let mos = info.flatMap { info in info.status.map { legs(info, $0).compactMap(\.mos).min() } } ?? nil
        return CallSummary(
            id: record.id, ageSeconds: Double((NIODeadline.now() - record.startedAt).nanoseconds) / 1e9, from: record.from.rawValue,
            caller: record.caller, callee: record.callee, trunk: record.trunk, state: record.state,
            webCodec: info?.webCodec, trunkCodec: info?.trunkCodec, media: info?.mode, mos: mos)
    }

    static func legs(_ info: MediaCallInfo, _ status: MediaCallStatus) -> [LegDetail] {
        func quality(_ codec: String?) -> CallQuality.Codec {
            switch codec?.lowercased().prefix(4) {
            case "opus": return .opus
            case "pcma": return .pcma
            default: return .pcmu
            }
        }
        func received(_ summary: ReceptionSummary?) -> StreamFigures {
            guard let summary else { return StreamFigures(packets: 0, payloadBytes: 0) }
            let total = Double(summary.packets) + Double(summary.lost)
            return StreamFigures(packets: Int(summary.packets), payloadBytes: Int(summary.payloadBytes), lost: Int(summary.lost),
                                 lossFraction: total > 0 ? Double(summary.lost) / total : 0, jitterMilliseconds: summary.jitterMilliseconds)
        }
        func mos(_ figures: StreamFigures, rtt: Double?, codec: String?) -> Double? {
            guard figures.packets > 0 else { return nil }
            return CallQuality.mos(loss: figures.lossFraction ?? 0, jitterMilliseconds: figures.jitterMilliseconds ?? 0,
                                   roundTripMilliseconds: rtt, codec: quality(codec))
        }
        let web = status.web, trunk = status.trunk
        let webReceived = received(web.received)
        let trunkReceived = received(trunk.received)
        let selected = web.selected.map { "\(info.webLocal) <-> \($0.ipAddress ?? "?"):\($0.port ?? 0)" }
        return [
            LegDetail(
                side: "web", local: info.webLocal, remote: web.selected.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" },
                codec: info.webCodec ?? "-", payloadType: info.webPayloadType ?? -1, iceSelectedPair: selected ?? "checking",
                dtlsRole: info.dtlsRole, srtpProfile: web.profile?.rawValue, received: webReceived,
                sent: StreamFigures(packets: web.counters.rtpSent, payloadBytes: Int(web.payloadBytesSent), lossFraction: web.remoteFractionLost,
                                    jitterMilliseconds: web.remoteJitterMilliseconds),
                roundTripMilliseconds: web.roundTripMilliseconds, mos: mos(webReceived, rtt: web.roundTripMilliseconds, codec: info.webCodec),
                dropped: ["srtp_auth": web.counters.srtpDropped, "unchecked_source": web.counters.unpermittedDropped, "unknown": web.counters.unknownDropped]),
            LegDetail(
                side: "trunk", local: info.trunkLocal, remote: "\(trunk.remote.ipAddress ?? "?"):\(trunk.remote.port ?? 0)",
                codec: info.trunkCodec ?? "-", payloadType: info.trunkPayloadType ?? -1, latched: trunk.latched,
                direction: "\(trunk.direction)", received: trunkReceived,
                sent: StreamFigures(packets: trunk.counters.rtpSent, payloadBytes: Int(trunk.payloadBytesSent), lossFraction: trunk.remoteFractionLost),
                roundTripMilliseconds: trunk.roundTripMilliseconds, mos: mos(trunkReceived, rtt: trunk.roundTripMilliseconds, codec: info.trunkCodec),
                dropped: ["wrong_source": trunk.counters.wrongSourceDropped, "malformed": trunk.counters.malformedDropped]),
        ]
    }
}

extension Daemon {
    func mediaCounters() -> [String: Int]? {
        guard let media else { return nil }
        let counters = media.counters
        var result = [
            "relayed_calls": counters.relayedCalls, "transcoded_calls": counters.transcodedCalls,
            "refused_no_ports": counters.refusedNoPorts, "refused_overload": counters.refusedOverload,
            "media_failures": counters.mediaFailures,
            "ports_in_use": media.portUsage.values.reduce(0) { $0 + $1.capacity - $1.free },
        ]
        for (index, load) in media.workers.loads.enumerated() { result["worker_load_\(index)"] = Int((load.load * 100).rounded()) }
        return result
    }
}

extension Logger.Level {
    init(_ level: LogLevel) { self = Logger.Level(rawValue: level.rawValue) ?? .info }
}

// MARK: - Services

/// The node itself, in the service group: announces READY, then drains on graceful shutdown.
struct DaemonService: Service {
    let daemon: Daemon

    func run() async throws {
        await daemon.announceReady()
        try? await gracefulShutdown()
        await daemon.drainAndStop()
    }
}

/// Reloads the configuration on every SIGHUP until shutdown.
struct ReloadService: Service {
    let daemon: Daemon
    let signals: UnixSignalsSequence

    func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            await daemon.reload()
        }
    }
}

/// Sends WATCHDOG=1 at half the interval systemd asked for.
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let interval: Duration

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            notifier.notify("WATCHDOG=1")
            let pause = interval / 2
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
        }
    }
}

/// The node's lifecycle, as status reports it.
enum GatewayState: String, Sendable {
    case running
    case draining
}
