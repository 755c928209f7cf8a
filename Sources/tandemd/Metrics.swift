// Prometheus metrics at /metrics on the HTTP listener, through swift-prometheus. Values are
// gathered when scraped: gauges are set, and counters move by what their source has added since
// the last scrape (the sources keep totals; media totals are live calls plus ended ones).

import Gateway
import MediaEngine
import Prometheus

/// Totals of ended calls' media, added to the live calls' figures at each scrape.
struct MediaTotals {
    /// By "leg direction kind": e.g. "web received packets".
    var values: [String: Int] = [:]

    mutating func add(_ status: MediaCallStatus) {
        for (key, value) in Self.figures(status) { values[key, default: 0] += value }
    }

    static func figures(_ status: MediaCallStatus) -> [String: Int] {
        [
            "web received packets": status.web.counters.rtpReceived,
            "web received bytes": Int(status.web.received?.payloadBytes ?? 0),
            "web sent packets": status.web.counters.rtpSent,
            "web sent bytes": Int(status.web.payloadBytesSent),
            "trunk received packets": status.trunk.counters.rtpReceived,
            "trunk received bytes": Int(status.trunk.received?.payloadBytes ?? 0),
            "trunk sent packets": status.trunk.counters.rtpSent,
            "trunk sent bytes": Int(status.trunk.payloadBytesSent),
            "srtp auth failures": status.web.counters.srtpDropped,
        ]
    }
}

/// What one scrape reports.
struct MetricsSnapshot {
    var activeCalls = 0
    var callsByResult: [String: Int] = [:]
    var registrations = 0
    var trunksUp: [String: Bool] = [:]
    var media: [String: Int] = [:]
    var relayedCalls = 0
    var transcodedCalls = 0
    var refusedNoPorts = 0
    var refusedOverload = 0
    var mediaFailures = 0
    var workerLoads: [Double] = []
    var portsInUse = 0
    var portCapacity = 0
    var requestsByMethod: [String: Int] = [:]
    var responsesByCode: [Int: Int] = [:]
    var draining = false
}

final class TandemMetrics {
    let registry = PrometheusCollectorRegistry()
    private var reported: [String: Int] = [:]
    private let handshake: DurationHistogram

    init() {
        handshake = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "tandem", metricName: "dtls_handshake", unitName: "seconds",
                                             helpText: "DTLS handshake time of WebRTC legs, first datagram to SRTP keys."),
            labels: [],
            buckets: [.milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)])
    }

    /// One WebRTC leg's handshake, recorded when its call ends.
    func recordHandshake(milliseconds: Double) {
        handshake.record(.nanoseconds(Int64(milliseconds * 1_000_000)))
    }

    func render(_ snapshot: MetricsSnapshot) -> String {
        gauge("calls_active", "", "Calls in progress (ringing or answered).", [], Double(snapshot.activeCalls))
        for (result, value) in snapshot.callsByResult {
            counter("calls", "Ended calls by result: answered, cancelled, or the failure's status.", [("result", result)], value)
        }
        gauge("registrations", "", "Registered browser contacts.", [], Double(snapshot.registrations))
        for (trunk, up) in snapshot.trunksUp {
            gauge("trunk_up", "", "1 when the trunk answers OPTIONS, else 0.", [("trunk", trunk)], up ? 1 : 0)
        }
        for leg in ["web", "trunk"] {
            for direction in ["received", "sent"] {
                counter("rtp_packets", "RTP packets per leg and direction.", [("leg", leg), ("direction", direction)],
                        snapshot.media["\(leg) \(direction) packets", default: 0])
                counter("rtp_payload_bytes", "RTP payload bytes per leg and direction.", [("leg", leg), ("direction", direction)],
                        snapshot.media["\(leg) \(direction) bytes", default: 0])
            }
        }
        counter("srtp_auth_failures", "SRTP/SRTCP packets dropped for failed authentication or replay.", [],
                snapshot.media["srtp auth failures", default: 0])
        counter("media_calls", "Calls whose media started, by mode.", [("mode", "relay")], snapshot.relayedCalls)
        counter("media_calls", "Calls whose media started, by mode.", [("mode", "transcode")], snapshot.transcodedCalls)
        counter("calls_refused", "Calls refused by admission control.", [("reason", "no_ports")], snapshot.refusedNoPorts)
        counter("calls_refused", "Calls refused by admission control.", [("reason", "overload")], snapshot.refusedOverload)
        counter("media_failures", "Calls ended by a media failure (consent, fingerprint, RTP timeout, DTLS close).", [], snapshot.mediaFailures)
        for (index, load) in snapshot.workerLoads.enumerated() {
            gauge("worker_load", "ratio", "CPU share of each media worker loop (0-1).", [("loop", String(index))], load)
        }
        gauge("media_ports_in_use", "", "RTP port pairs in use.", [], Double(snapshot.portsInUse))
        gauge("media_ports", "", "RTP port pairs configured.", [], Double(snapshot.portCapacity))
        for (method, value) in snapshot.requestsByMethod {
            counter("sip_requests", "SIP requests received, by method.", [("method", method)], value)
        }
        for (code, value) in snapshot.responsesByCode {
            counter("sip_responses", "SIP responses received, by status code.", [("code", String(code))], value)
        }
        gauge("draining", "", "1 while new calls are refused (drain).", [], snapshot.draining ? 1 : 0)
        return registry.emitToString()
    }

    private func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "tandem", metricName: name, unitName: unit, helpText: help),
                           labels: labels).set(value)
    }

    /// Moves a counter to `total` (never backwards).
    private func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ total: Int) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = total - reported[key, default: 0]
        let counter = registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "tandem", metricName: name, unitName: "total", helpText: help), labels: labels)
        if delta > 0 {
            counter.increment(by: Int64(delta))
            reported[key] = total
        }
    }
}
