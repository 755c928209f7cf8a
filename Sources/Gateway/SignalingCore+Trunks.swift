// Trunk supervision inside the signaling core: one TrunkMonitor per trunk that pings with OPTIONS
// or registers; their requests go out as client transactions toward the trunk, and responses and
// timeouts come back to the monitor that sent them.

import NIOCore
import SIP
import TandemConfig

extension SignalingCore {
    /// Availability and registration of every supervised trunk, by name.
    public var trunkStates: [String: String] {
        trunkMonitors.mapValues { monitor in
            var text = monitor.availability.rawValue
            switch monitor.registration {
            case .disabled: break
            case .pending: text += ", registering"
            case .registered: text += ", registered"
            case .failed(let status, let reason): text += ", registration failed (\(status) \(reason))"
            }
            return text
        }
    }

    /// Every configured trunk as `tandemctl trunks` shows it.
    public var trunkList: [TrunkStatus] {
        (routing?.trunks ?? []).map { trunk in
            let monitor = trunkMonitors[trunk.name]
            var registration = "off"
            switch monitor?.registration {
            case .pending: registration = "registering"
            case .registered: registration = "registered"
            case .failed(let status, let reason): registration = "failed (\(status) \(reason))"
            case .disabled, nil: break
            }
            return TrunkStatus(
                name: trunk.name, address: "\(trunk.transport.rawValue):\(trunk.address):\(trunk.port)",
                availability: monitor?.availability.rawValue ?? "unchecked", registration: registration,
                optionsRoundTripMilliseconds: monitor?.optionsRoundTrip.map { Double($0.nanoseconds) / 1e6 },
                activeCalls: calls.values.filter { $0.trunk == trunk.name }.count, maxCalls: trunk.maxCalls)
        }
    }

    /// Why `trunk` cannot take a new call now, or nil when it can: known to be down (outgoing
    /// calls only: a trunk that calls in is evidently up), at its `max_calls`, or over its
    /// `max_calls_per_second`.
    func trunkRefusal(_ trunk: Trunk, now: NIODeadline, incoming: Bool = false) -> String? {
        if !incoming, trunkMonitors[trunk.name]?.availability == .down { return "down" }
        if trunk.maxCalls > 0, calls.values.filter({ $0.trunk == trunk.name }).count >= trunk.maxCalls { return "at its call limit" }
        if trunk.maxCallsPerSecond > 0, trunkTokens(trunk, now: now) < 1 { return "over its call rate" }
        return nil
    }

    /// The trunk's call-rate bucket now: it refills at `max_calls_per_second` up to a burst of
    /// one second's worth (at least one call).
    private func trunkTokens(_ trunk: Trunk, now: NIODeadline) -> Double {
        let burst = max(1, trunk.maxCallsPerSecond)
        guard let bucket = trunkRates[trunk.name] else { return burst }
        let refill = Double((now - bucket.at).nanoseconds) / 1e9 * trunk.maxCallsPerSecond
        return min(burst, bucket.tokens + max(0, refill))
    }

    /// A call placed on or taken from `trunk` spends one token of its call rate.
    mutating func takeTrunkRate(_ trunk: Trunk, now: NIODeadline) {
        guard trunk.maxCallsPerSecond > 0 else { return }
        trunkRates[trunk.name] = (trunkTokens(trunk, now: now) - 1, now)
    }

    /// Creates, updates or removes monitors to match the routing's trunks.
    mutating func syncTrunkMonitors(now: NIODeadline) {
        guard let routing else { return }
        var next: [String: TrunkMonitor] = [:]
        for trunk in routing.trunks where trunk.optionsInterval > 0 || trunk.register {
            guard let local = routing.endpoints[trunk.transport] else { continue }
            if var monitor = trunkMonitors[trunk.name] {
                if monitor.trunk != trunk { monitor.reconfigure(trunk, now: now) }
                next[trunk.name] = monitor
            } else {
                next[trunk.name] = TrunkMonitor(trunk: trunk, local: local, now: now)
            }
        }
        trunkMonitors = next
        monitorsSynced = true
    }

    var trunkMonitorDeadline: NIODeadline? {
        if !monitorsSynced && routing != nil { return .uptimeNanoseconds(0) }
        return trunkMonitors.values.compactMap(\.nextDeadline).min()
    }

    mutating func trunkMonitorTimeout(now: NIODeadline) -> [SignalingEffect<Destination>] {
        if !monitorsSynced { syncTrunkMonitors(now: now) }
        var effects: [SignalingEffect<Destination>] = []
        for name in Array(trunkMonitors.keys) {
            guard var monitor = trunkMonitors[name], let deadline = monitor.nextDeadline, deadline <= now else { continue }
            let before = monitor.availability
            let requests = monitor.timeout(now: now)
            trunkMonitors[name] = monitor
            if before != monitor.availability { effects.append(trunkChanged(monitor, from: before, response: monitor.lastChange?.reason ?? "")) }
            effects += sendTrunkRequests(requests, trunk: name, now: now)
        }
        return effects
    }

    /// Routes a client-transaction response to its monitor; false when no monitor sent it.
    mutating func trunkMonitorResponse(_ response: SIPResponse, transaction id: TransactionID, now: NIODeadline) -> [SignalingEffect<Destination>]? {
        guard let name = monitorByTransaction[id], var monitor = trunkMonitors[name] else { return nil }
        let before = monitor.availability
        let requests = monitor.receive(response, now: now)
        trunkMonitors[name] = monitor
        if !response.isProvisional {
            monitorByTransaction[id] = nil
            pendingMonitorRequests[id] = nil
        }
        var effects = sendTrunkRequests(requests, trunk: name, now: now)
        if before != monitor.availability { effects.append(trunkChanged(monitor, from: before, response: "\(response.statusCode) \(response.reason)")) }
        return effects
    }

    mutating func trunkMonitorTimedOut(_ id: TransactionID, now: NIODeadline) -> [SignalingEffect<Destination>]? {
        guard let name = monitorByTransaction.removeValue(forKey: id), var monitor = trunkMonitors[name],
            let request = transactions.request(of: id) ?? pendingMonitorRequests[id]
        else { return nil }
        let before = monitor.availability
        if let callID = try? request.headers.callID(), let cseq = try? request.headers.cseq() {
            monitor.timedOut(callID: callID, cseq: cseq.number, now: now)
        }
        trunkMonitors[name] = monitor
        pendingMonitorRequests[id] = nil
        return before != monitor.availability ? [trunkChanged(monitor, from: before, response: "no answer")] : []
    }

    /// A trunk went up or down: at notice, with what its last OPTIONS got.
    private func trunkChanged(_ monitor: TrunkMonitor, from before: TrunkMonitor.Availability, response: String) -> SignalingEffect<Destination> {
        let trunk = monitor.trunk
        return .log(OperatorLog(.notice, "trunk \(monitor.availability)", [
            "trunk": trunk.name, "address": "\(trunk.transport.rawValue):\(trunk.address):\(trunk.port)",
            "was": before.rawValue, "options": response,
        ]))
    }

    private mutating func sendTrunkRequests(_ requests: [SIPRequest], trunk name: String, now: NIODeadline) -> [SignalingEffect<Destination>] {
        guard let routing, let trunk = routing.trunks.first(where: { $0.name == name }), let destination = routing.trunkDestination(trunk) else {
            return []
        }
        var effects: [SignalingEffect<Destination>] = []
        for var request in requests {
            if request.headers["User-Agent"] == nil { request.headers.add("User-Agent", userAgent) }
            guard let (id, events) = try? transactions.send(request, to: destination, reliable: trunk.transport.isStream, now: now) else { continue }
            monitorByTransaction[id] = name
            pendingMonitorRequests[id] = request
            effects += handle(events, now: now)
        }
        return effects
    }
}

/// A trunk's state for operators.
public struct TrunkStatus: Sendable, Equatable {
    public var name: String
    public var address: String
    public var availability: String
    public var registration: String
    public var optionsRoundTripMilliseconds: Double?
    public var activeCalls: Int
    public var maxCalls: Int
}
