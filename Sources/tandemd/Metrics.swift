// Prometheus metrics at /metrics on the HTTP listener, through swift-prometheus. Values are
// gathered when scraped: gauges are set, and counters move by what their source has added since
// the last scrape (the sources keep totals; media totals are live calls plus ended ones).

import Control
import Foundation
import Gateway
import MediaEngine
import Prometheus
import SIPTransport
#if canImport(Glibc)
import Glibc
#endif

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
        ].merging(dropped(status).map { ("dropped \($0.key)", $0.value) }) { a, _ in a }
    }

    /// What the browser's leg dropped, by the reason label of `tandem_media_dropped_total`.
    static func dropped(_ status: MediaCallStatus) -> [String: Int] {
        let ice = status.web.ice
        return [
            "stun_policed": ice.policed,
            "stun_unauthenticated": ice.unauthenticated,
            "stun_bad_request": ice.badRequests,
            "stun_discarded": ice.discarded,
            "stun_error_unsent": ice.errorsUnsent,
            "unpermitted_source": status.web.counters.unpermittedDropped,
            "srtp_auth": status.web.counters.srtpDropped,
            "not_media": status.web.counters.unknownDropped,
        ]
    }

    /// The reason labels, in a fixed order.
    static let dropReasons = ["stun_policed", "stun_unauthenticated", "stun_bad_request", "stun_discarded", "stun_error_unsent",
                              "unpermitted_source", "srtp_auth", "not_media"]
}

/// What one scrape reports.
struct MetricsSnapshot {
    var activeCalls = 0
    var calls: [CallResultKey: Int] = [:]
    var trunkCalls: [String: Int] = [:]
    var registrations = 0
    var trunksUp: [String: Bool] = [:]
    var media: [String: Int] = [:]
    var relayedCalls = 0
    var transcodedCalls = 0
    var refusedNoPorts = 0
    var refusedOverload = 0
    /// By ``MediaFailureCause/label``.
    var mediaFailures: [String: Int] = [:]
    var workerLoads: [Double] = []
    var portsInUse = 0
    var portCapacity = 0
    var requestsByMethod: [String: Int] = [:]
    var responsesByCode: [Int: Int] = [:]
    var responsesSentByCode: [Int: Int] = [:]
    var draining = false
    /// UDP datagrams dropped before parsing, by reason (`oversized`, `not_sip`).
    var sipDroppedDatagrams: [String: Int] = [:]
    /// Received messages dropped because signaling had no room for them.
    var sipDroppedEvents = 0
    /// Inbound connections Tandem closed, by reason (``SIPConnectionDrop``), and open now.
    var sipConnectionsClosed: [String: Int] = [:]
    var sipConnectionsOpen = 0
}

/// One ended call's figures for the end-of-call histograms.
struct EndedCallFigures {
    struct Leg {
        var side: String
        var mos: Double?
        var lossRatio: Double?
        var jitterSeconds: Double?
    }

    var trunk: String
    /// Talk time, answer to end; nil for calls never answered.
    var talkSeconds: Double?
    var legs: [Leg]
}

final class TandemMetrics {
    let registry = PrometheusCollectorRegistry()
    private var reported: [String: Int] = [:]
    private var reportedCPU = 0.0
    private let handshake: DurationHistogram

    init() {
        handshake = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "tandem", metricName: "dtls_handshake", unitName: "seconds",
                                             helpText: "DTLS handshake time of WebRTC legs, first datagram to SRTP keys."),
            labels: [],
            buckets: [.milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)])
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "tandem", metricName: "build_info",
                                                            helpText: "Always 1; the labels name the version running."),
                           labels: [("version", TandemVersion.current)]).set(1.0)
    }

    /// One WebRTC leg's handshake, recorded when its call ends.
    func recordHandshake(milliseconds: Double) {
        handshake.record(.nanoseconds(Int64(milliseconds * 1_000_000)))
    }

    /// Buckets of the end-of-call histograms.
    static let durationBuckets: [Double] = [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200]
    static let mosBuckets: [Double] = [1, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4, 4.5]
    static let lossBuckets: [Double] = [0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
    static let jitterBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1]

    /// An ended call: its talk time (answered calls) and each leg's MOS, loss and jitter (legs
    /// that received media).
    func recordEnded(_ call: EndedCallFigures) {
        if let talk = call.talkSeconds {
            histogram("call_duration", "seconds", "Talk time of answered calls, answer to hang-up.", [("trunk", call.trunk)],
                      Self.durationBuckets).record(talk)
        }
        for leg in call.legs {
            let labels = [("leg", leg.side), ("trunk", call.trunk)]
            if let mos = leg.mos {
                histogram("call_mos", "", "Estimated MOS of what each leg received, at call end (E-model, 1-4.5).", labels,
                          Self.mosBuckets).record(mos)
            }
            if let loss = leg.lossRatio {
                histogram("call_loss", "ratio", "Share of RTP packets lost on each leg, at call end (0-1).", labels,
                          Self.lossBuckets).record(loss)
            }
            if let jitter = leg.jitterSeconds {
                histogram("call_jitter", "seconds", "Interarrival jitter of each leg (RFC 3550), at call end.", labels,
                          Self.jitterBuckets).record(jitter)
            }
        }
    }

    func render(_ snapshot: MetricsSnapshot) -> String {
        gauge("calls_active", "", "Calls in progress (ringing or answered).", [], Double(snapshot.activeCalls))
        for (trunk, active) in snapshot.trunkCalls {
            gauge("trunk_calls_active", "", "Calls in progress on each trunk.", [("trunk", trunk)], Double(active))
        }
        for (key, value) in snapshot.calls {
            counter("calls", "Call attempts ended, refused ones included: answered, cancelled, or the final status the caller got; trunk is empty when none was involved.",
                    [("result", key.result), ("trunk", key.trunk)], value)
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
        for reason in MediaTotals.dropReasons {
            counter("media_dropped", "Datagrams the browsers' media ports dropped or left unanswered, by reason: STUN policed (over the rate for an address that has not passed a check), unauthenticated, malformed (bad_request) or otherwise discarded, error answers not sent (over their rate), anything from an address that never passed a check (unpermitted_source, spoofed DTLS among it), SRTP failing authentication, and what is not media at all.",
                    [("reason", reason)], snapshot.media["dropped \(reason)", default: 0])
        }
        counter("media_calls", "Calls whose media started, by mode.", [("mode", "relay")], snapshot.relayedCalls)
        counter("media_calls", "Calls whose media started, by mode.", [("mode", "transcode")], snapshot.transcodedCalls)
        let dropHelp = "Received SIP dropped unread: UDP datagrams over sip.max_udp_message_size (oversized) or not SIP (not_sip), and messages signaling had no room for (queue_full)."
        for reason in SIPDatagramDrop.allCases {
            counter("sip_dropped", dropHelp, [("reason", reason.rawValue)], snapshot.sipDroppedDatagrams[reason.rawValue] ?? 0)
        }
        counter("sip_dropped", dropHelp, [("reason", "queue_full")], snapshot.sipDroppedEvents)
        for reason in SIPConnectionDrop.allCases {
            counter("sip_connections_closed", "Inbound SIP connections (TCP, TLS, WebSocket) Tandem closed: over sip.max_connections (connection_limit) or sip.max_connections_per_source (source_limit) as accepted, or silent for sip.first_message_timeout (no_first_message).",
                    [("reason", reason.rawValue)], snapshot.sipConnectionsClosed[reason.rawValue] ?? 0)
        }
        gauge("sip_connections", "", "Inbound SIP connections (TCP, TLS, WebSocket) open.", [], Double(snapshot.sipConnectionsOpen))
        counter("calls_refused", "Calls refused by admission control.", [("reason", "no_ports")], snapshot.refusedNoPorts)
        counter("calls_refused", "Calls refused by admission control.", [("reason", "overload")], snapshot.refusedOverload)
        // Every cause is exported from the start (at 0), so a first failure is an increase.
        var failures = Dictionary(uniqueKeysWithValues: MediaFailureCause.allCauses.map { ($0.label, 0) })
        failures.merge(snapshot.mediaFailures) { $1 }
        for (cause, value) in failures.sorted(by: { $0.key < $1.key }) {
            counter("media_failures", "Calls ended by a media failure, by cause (ICE consent, fingerprint, RTP timeout, DTLS failure...); a hang-up is not one.",
                    [("cause", cause)], value)
        }
        for (index, load) in snapshot.workerLoads.enumerated() {
            gauge("worker_load", "ratio", "CPU share of each media worker loop (0-1).", [("loop", String(index))], load)
        }
        gauge("media_ports_in_use", "", "RTP port pairs in use.", [], Double(snapshot.portsInUse))
        gauge("media_ports", "", "RTP port pairs configured.", [], Double(snapshot.portCapacity))
        for (method, value) in snapshot.requestsByMethod {
            counter("sip_requests", "SIP requests received, by method.", [("method", method)], value)
        }
        for (code, value) in snapshot.responsesByCode {
            counter("sip_responses", "SIP responses received and sent, by direction and status code.",
                    [("direction", "received"), ("code", String(code))], value)
        }
        for (code, value) in snapshot.responsesSentByCode {
            counter("sip_responses", "SIP responses received and sent, by direction and status code.",
                    [("direction", "sent"), ("code", String(code))], value)
        }
        gauge("draining", "", "1 while new calls are refused (drain).", [], snapshot.draining ? 1 : 0)
        renderProcess()
        return registry.emitToString()
    }

    /// The standard `process_*` series (as Prometheus client libraries export them), from /proc.
    private func renderProcess() {
        guard let process = ProcessFigures.read() else { return }
        func processGauge(_ name: String, _ unit: String, _ help: String, _ value: Double) {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "process", metricName: name, unitName: unit, helpText: help)).set(value)
        }
        let cpu = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "process", metricName: "cpu", unitName: "seconds_total", helpText: "User and system CPU time spent, in seconds."))
        if process.cpuSeconds > reportedCPU {
            cpu.increment(by: process.cpuSeconds - reportedCPU)
            reportedCPU = process.cpuSeconds
        }
        processGauge("resident_memory", "bytes", "Resident memory size in bytes.", process.residentBytes)
        processGauge("virtual_memory", "bytes", "Virtual memory size in bytes.", process.virtualBytes)
        processGauge("open_fds", "", "Open file descriptors.", process.openFileDescriptors)
        processGauge("max_fds", "", "The most file descriptors the process may open.", process.maxFileDescriptors)
        processGauge("start_time", "seconds", "Start time of the process since the Unix epoch, in seconds.", process.startTime)
    }

    private func histogram(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)], _ buckets: [Double]) -> ValueHistogram {
        registry.makeValueHistogram(descriptor: MetricNameDescriptor(namespace: "tandem", metricName: name, unitName: unit, helpText: help),
                                    labels: labels, buckets: buckets)
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

/// The process's own figures from /proc/self (Linux).
struct ProcessFigures {
    var cpuSeconds: Double
    var residentBytes: Double
    var virtualBytes: Double
    var openFileDescriptors: Double
    var maxFileDescriptors: Double
    var startTime: Double

    static func read() -> ProcessFigures? {
        // /proc/self/stat: the fields after the command name's closing parenthesis start at field 3.
        guard let stat = text("/proc/self/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ").map(String.init)
        func field(_ number: Int) -> Double { Double(fields.count > number - 3 ? fields[number - 3] : "") ?? 0 }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        let bootTime = text("/proc/stat")?.split(separator: "\n").first { $0.hasPrefix("btime ") }
            .flatMap { Double($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) } ?? 0
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return ProcessFigures(
            cpuSeconds: (field(14) + field(15)) / ticks, residentBytes: field(24) * page, virtualBytes: field(23),
            openFileDescriptors: Double(openFileDescriptorCount()), maxFileDescriptors: Double(limit.rlim_cur),
            startTime: bootTime + field(22) / ticks)
    }

    private static func text(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }

    private static func openFileDescriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if UInt8(bitPattern: entry.pointee.d_name.0) != UInt8(ascii: ".") { count += 1 }
        }
        return max(0, count - 1)  // the directory stream's own descriptor
    }
}
