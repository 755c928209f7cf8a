// The control socket protocol, version 1: one JSON object per line in each direction.
//
//   request:  {"version":1,"command":"status"}
//   response: {"version":1,"ok":true,"status":{...}}
//             {"version":1,"ok":false,"error":"unknown command 'x'"}
//
// Keys are snake_case everywhere (as in the CDR file), spelled out in each type's CodingKeys:
// a key strategy would also rewrite dictionary keys, which are data (trunk names).
//
// A client sends the version it speaks; the daemon answers requests of any version it knows and
// refuses newer ones with a clear error. New fields may be added to results within a version;
// clients ignore fields they do not know.

import Foundation

public enum ControlProtocol {
    public static let version = 1
    /// Longest request line the daemon accepts.
    public static let maxLineLength = 64 * 1024
    /// Every command the daemon answers.
    public static let commands = ["status", "calls", "call", "hangup", "registrations", "trunks", "recent_calls", "drain", "undrain", "reload",
                                  "trace"]
    /// How many ended calls the daemon keeps for `recent_calls`, and the most one request gets.
    public static let recentCallsLimit = 100

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

public struct ControlRequest: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case version, command, argument, callID = "call_id", user
    }

    public var version: Int
    public var command: String
    /// The call id of `call` and `hangup`; `on` or `off` for `trace` (absent: show the state).
    public var argument: String?
    /// `trace on`: only messages of this Call-ID.
    public var callID: String?
    /// `trace on`: only messages whose Request-URI, From or To user is this.
    public var user: String?

    public init(command: String, argument: String? = nil, callID: String? = nil, user: String? = nil, version: Int = ControlProtocol.version) {
        self.version = version
        self.command = command
        self.argument = argument
        self.callID = callID
        self.user = user
    }
}

public struct ControlResponse: Codable, Sendable {
    enum CodingKeys: String, CodingKey {
        case version, ok, error, status, calls, call, registrations, trunks, recentCalls = "recent_calls", message, trace
    }

    public var version: Int
    public var ok: Bool
    public var error: String?
    public var status: StatusReport?
    public var calls: [CallSummary]?
    public var call: CallDetail?
    public var registrations: [RegistrationInfo]?
    public var trunks: [TrunkInfo]?
    /// `recent_calls`: the last ended calls, newest first.
    public var recentCalls: [RecentCall]?
    /// What a command did (`hangup`, `drain`, `undrain`, `reload`).
    public var message: String?
    /// The SIP trace's state (`trace`).
    public var trace: TraceState?

    public init(ok: Bool, error: String? = nil, status: StatusReport? = nil, calls: [CallSummary]? = nil, call: CallDetail? = nil,
                registrations: [RegistrationInfo]? = nil, trunks: [TrunkInfo]? = nil, recentCalls: [RecentCall]? = nil,
                message: String? = nil) {
        version = ControlProtocol.version
        self.ok = ok
        self.error = error
        self.status = status
        self.calls = calls
        self.call = call
        self.registrations = registrations
        self.trunks = trunks
        self.recentCalls = recentCalls
        self.message = message
        self.trace = nil
    }

    public static func failure(_ message: String) -> ControlResponse { ControlResponse(ok: false, error: message) }

    public static func success(status: StatusReport) -> ControlResponse { ControlResponse(ok: true, status: status) }
}

/// What `tandemctl status` shows.
public struct StatusReport: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case version, node, pid, state, startedAt = "started_at", uptimeSeconds = "uptime_seconds", configFile = "config_file", configFiles = "config_files", configGeneration = "config_generation", lastReload = "last_reload", listeners, http, controlSocket = "control_socket", workers, logLevel = "log_level", activeCalls = "active_calls", registrations, trunks, trunkStates = "trunk_states", users, mediaPorts = "media_ports", media, libraries
    }

    public struct Listener: Codable, Sendable, Equatable {
        public var transport: String
        public var address: String
        public var port: Int
        public init(transport: String, address: String, port: Int) {
            self.transport = transport
            self.address = address
            self.port = port
        }
    }

    public struct Reload: Codable, Sendable, Equatable {
        public var at: Date
        public var succeeded: Bool
        /// The errors of a rejected configuration, or the changes that need a restart.
        public var messages: [String]
        public init(at: Date, succeeded: Bool, messages: [String]) {
            self.at = at
            self.succeeded = succeeded
            self.messages = messages
        }
    }

    public var version: String
    public var node: String
    public var pid: Int32
    public var state: String
    public var startedAt: Date
    public var uptimeSeconds: Double
    public var configFile: String
    public var configFiles: [String]
    /// 1 at start, +1 for every reload that was applied.
    public var configGeneration: Int
    public var lastReload: Reload?
    public var listeners: [Listener]
    public var http: Listener?
    public var controlSocket: String
    public var workers: Int
    public var logLevel: String
    public var activeCalls: Int
    public var registrations: Int
    public var trunks: Int
    /// Each supervised trunk's availability and registration ("up, registered").
    public var trunkStates: [String: String]?
    public var users: Int
    public var mediaPorts: Int
    /// Media counters since start: relayed_calls, transcoded_calls, refused_no_ports,
    /// refused_overload, media_failures, ports_in_use, and worker load in percent per loop.
    public var media: [String: Int]?
    public var libraries: [String: String]

    public init(
        version: String, node: String, pid: Int32, state: String, startedAt: Date, uptimeSeconds: Double,
        configFile: String, configFiles: [String], configGeneration: Int, lastReload: Reload?,
        listeners: [Listener], http: Listener?, controlSocket: String, workers: Int, logLevel: String,
        activeCalls: Int, registrations: Int, trunks: Int, trunkStates: [String: String]? = nil, users: Int, mediaPorts: Int,
        media: [String: Int]? = nil, libraries: [String: String]
    ) {
        self.version = version
        self.node = node
        self.pid = pid
        self.state = state
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.configFile = configFile
        self.configFiles = configFiles
        self.configGeneration = configGeneration
        self.lastReload = lastReload
        self.listeners = listeners
        self.http = http
        self.controlSocket = controlSocket
        self.workers = workers
        self.logLevel = logLevel
        self.activeCalls = activeCalls
        self.registrations = registrations
        self.trunks = trunks
        self.trunkStates = trunkStates
        self.users = users
        self.mediaPorts = mediaPorts
        self.media = media
        self.libraries = libraries
    }
}

/// What `tandemctl trace` shows: whether the SIP trace runs, its filter, outputs and counters.
public struct TraceState: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case enabled, callID = "call_id", user, log, hep, captureID = "capture_id", traced, hepSent = "hep_sent", hepDropped = "hep_dropped"
        case queueDropped = "queue_dropped"
    }

    public var enabled: Bool
    public var callID: String?
    public var user: String?
    /// Whether each message is written to the log.
    public var log: Bool
    /// The HEP capture server ("address:port"), if any.
    public var hep: String?
    public var captureID: UInt32?
    /// Messages that passed the filter since start.
    public var traced: Int
    public var hepSent: Int
    /// HEP packets not sent (unwritable socket, failed send, message too large).
    public var hepDropped: Int
    /// Messages lost because the trace fell behind.
    public var queueDropped: Int

    public init(enabled: Bool, callID: String? = nil, user: String? = nil, log: Bool, hep: String? = nil, captureID: UInt32? = nil,
                traced: Int = 0, hepSent: Int = 0, hepDropped: Int = 0, queueDropped: Int = 0) {
        self.enabled = enabled
        self.callID = callID
        self.user = user
        self.log = log
        self.hep = hep
        self.captureID = captureID
        self.traced = traced
        self.hepSent = hepSent
        self.hepDropped = hepDropped
        self.queueDropped = queueDropped
    }

    /// One line per fact, for tandemctl.
    public var text: String {
        var filter: [String] = []
        if let callID { filter.append("call \(callID)") }
        if let user { filter.append("user \(user)") }
        var outputs: [String] = []
        if log { outputs.append("log") }
        if let hep { outputs.append("HEP to \(hep)" + (captureID.map { " (capture id \($0))" } ?? "")) }
        return [
            "SIP trace: \(enabled ? "on" : "off")",
            "filter:    \(filter.isEmpty ? "all messages" : filter.joined(separator: ", "))",
            "outputs:   \(outputs.isEmpty ? "none" : outputs.joined(separator: ", "))",
            "traced:    \(traced) messages; HEP sent \(hepSent), dropped \(hepDropped); queue overflow \(queueDropped)",
        ].joined(separator: "\n")
    }
}

/// A change `tandemctl trace on|off` asks for.
public struct TraceChange: Sendable, Equatable {
    public var enabled: Bool
    public var callID: String?
    public var user: String?

    public init(enabled: Bool, callID: String? = nil, user: String? = nil) {
        self.enabled = enabled
        self.callID = callID
        self.user = user
    }
}

/// Answers control requests; implemented by the daemon.
public protocol ControlCommandHandler: Sendable {
    func status() async -> StatusReport
    func calls() async -> [CallSummary]
    func call(_ id: String) async -> CallDetail?
    /// Ends a call; false when there is no such call.
    func hangUp(_ id: String) async -> Bool
    func registrations() async -> [RegistrationInfo]
    func trunks() async -> [TrunkInfo]
    /// The last `limit` ended calls, newest first.
    func recentCalls(limit: Int) async -> [RecentCall]
    /// Stops or resumes taking new calls; returns what happened.
    func setDraining(_ draining: Bool) async -> String
    /// Reloads the configuration; returns what happened, or throws its errors as text.
    func reloadConfiguration() async -> (ok: Bool, message: String)
    /// Applies `change` to the SIP trace (nil: none) and returns the trace's state; nil when the
    /// daemon has no trace.
    func trace(_ change: TraceChange?) async -> TraceState?
}

extension ControlCommandHandler {
    public func calls() async -> [CallSummary] { [] }
    public func call(_ id: String) async -> CallDetail? { nil }
    public func hangUp(_ id: String) async -> Bool { false }
    public func registrations() async -> [RegistrationInfo] { [] }
    public func trunks() async -> [TrunkInfo] { [] }
    public func recentCalls(limit: Int) async -> [RecentCall] { [] }
    public func setDraining(_ draining: Bool) async -> String { "not supported" }
    public func reloadConfiguration() async -> (ok: Bool, message: String) { (false, "not supported") }
    public func trace(_ change: TraceChange?) async -> TraceState? { nil }
}

extension ControlCommandHandler {
    /// Answers one request line.
    public func respond(to line: String) async -> ControlResponse {
        let request: ControlRequest
        do {
            request = try ControlProtocol.decoder().decode(ControlRequest.self, from: Data(line.utf8))
        } catch {
            return .failure("malformed request: expected a JSON object with \"version\" and \"command\"")
        }
        guard request.version >= 1 && request.version <= ControlProtocol.version else {
            return .failure("unsupported protocol version \(request.version) (this daemon speaks 1...\(ControlProtocol.version))")
        }
        switch request.command {
        case "status":
            return .success(status: await status())
        case "calls":
            return ControlResponse(ok: true, calls: await calls())
        case "call":
            guard let id = request.argument, !id.isEmpty else { return .failure("'call' needs a call id") }
            guard let detail = await call(id) else { return .failure("no call '\(id)'") }
            return ControlResponse(ok: true, call: detail)
        case "hangup":
            guard let id = request.argument, !id.isEmpty else { return .failure("'hangup' needs a call id") }
            guard await hangUp(id) else { return .failure("no call '\(id)'") }
            return ControlResponse(ok: true, message: "call \(id) ended")
        case "registrations":
            return ControlResponse(ok: true, registrations: await registrations())
        case "trunks":
            return ControlResponse(ok: true, trunks: await trunks())
        case "recent_calls":
            var limit = ControlProtocol.recentCallsLimit
            if let argument = request.argument, !argument.isEmpty {
                guard let asked = Int(argument), asked > 0 else { return .failure("'recent_calls' takes a positive count, not '\(argument)'") }
                limit = min(asked, ControlProtocol.recentCallsLimit)
            }
            return ControlResponse(ok: true, recentCalls: await recentCalls(limit: limit))
        case "drain", "undrain":
            return ControlResponse(ok: true, message: await setDraining(request.command == "drain"))
        case "reload":
            let (ok, message) = await reloadConfiguration()
            return ok ? ControlResponse(ok: true, message: message) : .failure(message)
        case "trace":
            let change: TraceChange?
            switch request.argument {
            case nil, "": change = nil
            case "on": change = TraceChange(enabled: true, callID: request.callID, user: request.user)
            case "off": change = TraceChange(enabled: false)
            case let other?: return .failure("'trace' takes on or off, not '\(other)'")
            }
            if change?.enabled != true && (request.callID != nil || request.user != nil) {
                return .failure("a call id or user filter goes with 'trace on'")
            }
            guard let state = await trace(change) else { return .failure("this daemon has no SIP trace") }
            var response = ControlResponse(ok: true, message: change.map { $0.enabled ? "SIP trace on" : "SIP trace off" })
            response.trace = state
            return response
        default:
            return .failure("unknown command '\(request.command)' (known: \(ControlProtocol.commands.joined(separator: ", ")))")
        }
    }
}
