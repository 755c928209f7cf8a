// The human-readable form of `tandemctl status`.

import Foundation

public enum StatusFormatter {
    public static func text(_ status: StatusReport) -> String {
        var lines: [String] = []
        func row(_ name: String, _ value: String) {
            lines.append(name.padding(toLength: 16, withPad: " ", startingAt: 0) + value)
        }
        row("Node", "\(status.node) (tandemd \(status.version), pid \(status.pid))")
        row("State", status.state)
        row("Uptime", duration(status.uptimeSeconds) + " (since \(ISO8601DateFormatter().string(from: status.startedAt)))")
        row("Config", "\(status.configFile), generation \(status.configGeneration)")
        for file in status.configFiles.dropFirst() { row("", "+ \(file)") }
        if let reload = status.lastReload {
            let when = ISO8601DateFormatter().string(from: reload.at)
            row("Last reload", "\(reload.succeeded ? "applied" : "REJECTED") at \(when)")
            for message in reload.messages { row("", message) }
        }
        for (index, listener) in status.listeners.enumerated() {
            row(index == 0 ? "SIP listeners" : "", "\(listener.transport.uppercased()) \(listener.address):\(listener.port)")
        }
        if let http = status.http { row("HTTP", "\(http.address):\(http.port) (/healthz)") }
        row("Control", status.controlSocket)
        row("Workers", "\(status.workers) event loops")
        row("Log level", status.logLevel)
        row("Active calls", "\(status.activeCalls)")
        row("Registrations", "\(status.registrations) (\(status.users) users configured)")
        row("Trunks", "\(status.trunks)")
        for name in (status.trunkStates ?? [:]).keys.sorted() { row("", "\(name): \(status.trunkStates![name]!)") }
        row("Media ports", "\(status.mediaPorts) RTP port pairs" + (status.media?["ports_in_use"]).map { ", \($0) in use" }.orEmpty)
        if let media = status.media {
            row("Media calls", "\(media["relayed_calls", default: 0]) relayed, \(media["transcoded_calls", default: 0]) transcoded, "
                + "\(media["media_failures", default: 0]) ended by media failure")
            row("Refused", "\(media["refused_no_ports", default: 0]) for lack of ports, \(media["refused_overload", default: 0]) over load")
            let loads = media.keys.filter { $0.hasPrefix("worker_load_") }.sorted().map { "\(media[$0]!)%" }
            if !loads.isEmpty { row("Worker load", loads.joined(separator: " ")) }
        }
        let libraries = status.libraries.keys.sorted().map { status.libraries[$0]! }
        row("Libraries", libraries.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    /// `3d 4h 5m 6s`, dropping leading zero units.
    public static func duration(_ seconds: Double) -> String {
        var remaining = Int(seconds)
        let days = remaining / 86400; remaining %= 86400
        let hours = remaining / 3600; remaining %= 3600
        let minutes = remaining / 60; remaining %= 60
        var parts: [String] = []
        if days > 0 { parts.append("\(days)d") }
        if days > 0 || hours > 0 { parts.append("\(hours)h") }
        if days > 0 || hours > 0 || minutes > 0 { parts.append("\(minutes)m") }
        parts.append("\(remaining)s")
        return parts.joined(separator: " ")
    }
}

extension Optional where Wrapped == String {
    var orEmpty: String { self ?? "" }
}
