// The daemon's side of the SIP trace: the configured `trace` section at start, a changed section
// at reload, and `tandemctl trace on|off [--call ID] [--user U]` in between. The SIPTracer the
// transport layer reports to owns the settings; this file only translates into them.

import Control
import Logging
import SIPTransport
import TandemConfig

extension Daemon {
    /// The tracer's settings for a configuration's trace section.
    nonisolated static func tracerSettings(_ trace: TraceSettings) -> SIPTracer.Settings {
        SIPTracer.Settings(
            enabled: trace.enabled, filter: SIPTraceFilter(callID: trace.callID, user: trace.user), log: trace.log,
            hep: trace.hep.map { SIPTracer.HEPTarget(address: $0.address, port: $0.port, captureID: $0.captureID, password: $0.password) })
    }

    /// Applies the configured trace and returns the transport options that report to it.
    func startTrace(_ trace: TraceSettings) -> SIPTransportOptions {
        tracer.apply(Self.tracerSettings(trace))
        if trace.enabled { logTraceState("SIP trace on (configured)") }
        var options = SIPTransportOptions()
        options.tracer = tracer
        return options
    }

    /// A reload replaces the running trace settings (including an operator's `tandemctl trace`)
    /// only when the trace section itself changed.
    func reloadTrace(from old: TraceSettings, to new: TraceSettings) {
        guard old != new else { return }
        tracer.apply(Self.tracerSettings(new))
        logTraceState("SIP trace settings reloaded")
    }

    func stopTrace() async {
        await tracer.close()
    }

    func trace(_ change: TraceChange?) async -> TraceState? {
        if let change {
            var settings = tracer.settings
            settings.enabled = change.enabled
            if change.enabled { settings.filter = SIPTraceFilter(callID: change.callID, user: change.user) }
            tracer.apply(settings)
            logTraceState(change.enabled ? "SIP trace on by operator request" : "SIP trace off by operator request")
        }
        let settings = tracer.settings
        let counters = tracer.counters
        return TraceState(
            enabled: settings.enabled, callID: settings.filter.callID, user: settings.filter.user, log: settings.log,
            hep: settings.hep.map { $0.address.contains(":") ? "[\($0.address)]:\($0.port)" : "\($0.address):\($0.port)" },
            captureID: settings.hep?.captureID, traced: counters.traced, hepSent: counters.hepSent,
            hepDropped: counters.hepDropped, queueDropped: counters.queueDropped)
    }

    private func logTraceState(_ what: String) {
        let settings = tracer.settings
        logger.notice("\(what)", metadata: [
            "enabled": "\(settings.enabled)", "filter": "\(settings.filter)", "log": "\(settings.log)",
            "hep": "\(settings.hep.map { "\($0.address):\($0.port)" } ?? "-")",
        ])
    }
}
