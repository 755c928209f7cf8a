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
            let requests = monitor.timeout(now: now)
            trunkMonitors[name] = monitor
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
        if before != monitor.availability { effects.append(.note("trunk \(name) is \(monitor.availability)")) }
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
        return before != monitor.availability ? [.note("trunk \(name) is \(monitor.availability) (no answer)")] : []
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
