// The human output of `tandemctl calls`, `call ID`, `registrations` and `trunks`: aligned columns
// that fit an 80-column terminal.

import Foundation

public enum CallFormatter {
    /// Left-aligned columns separated by two spaces; cells are cut to `widths` when given.
    static func table(_ header: [String], _ rows: [[String]], widths: [Int?]) -> String {
        let cut = { (cell: String, index: Int) -> String in
            guard let width = widths[index], cell.count > width else { return cell }
            return String(cell.prefix(max(1, width - 1))) + "…"
        }
        let all = ([header] + rows).map { $0.enumerated().map { cut($0.element, $0.offset) } }
        let columns = header.indices.map { index in all.map { $0[index].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $0.element.padding(toLength: columns[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    static func number(_ value: Double?, _ digits: Int = 1) -> String {
        guard let value else { return "-" }
        return String(format: "%.\(digits)f", value)
    }

    public static func calls(_ calls: [CallSummary]) -> String {
        guard !calls.isEmpty else { return "no active calls" }
        let rows = calls.map { call -> [String] in
            let codecs = [call.webCodec, call.trunkCodec].compactMap { $0?.components(separatedBy: "/").first }.joined(separator: ">")
            // The id without its "@node" suffix is enough for `tandemctl call` and `hangup`.
            let id = call.id.split(separator: "@").first.map(String.init) ?? call.id
            return [id, StatusFormatter.duration(call.ageSeconds), call.caller, call.callee, call.trunk ?? "-", call.state,
                    codecs.isEmpty ? "-" : codecs + (call.media == "relay" ? " R" : call.media == "transcode" ? " T" : ""),
                    number(call.mos)]
        }
        return table(["CALL", "AGE", "FROM", "TO", "TRUNK", "STATE", "CODECS", "MOS"], rows, widths: [16, 7, 9, 11, 8, 9, 11, 3])
            + "\n(R relayed, T transcoded; tandemctl call ID for the detail)"
    }

    public static func detail(_ call: CallDetail) -> String {
        var lines: [String] = []
        let summary = call.summary
        let row = { (label: String, value: String) in lines.append(label.padding(toLength: 16, withPad: " ", startingAt: 0) + value) }
        row("Call", summary.id)
        row("Parties", "\(summary.caller) (\(summary.from)) -> \(summary.callee)" + (summary.trunk.map { " via \($0)" } ?? ""))
        row("State", "\(summary.state), \(StatusFormatter.duration(summary.ageSeconds))")
        let format = ISO8601DateFormatter()
        row("Started", format.string(from: call.startedAt))
        if let answered = call.answeredAt { row("Answered", format.string(from: answered)) }
        if let media = summary.media { row("Media", media == "relay" ? "relayed (no transcoding)" : "transcoded") }
        for leg in call.legs {
            lines.append("")
            row("\(leg.side.capitalized) leg", "\(leg.codec) (payload type \(leg.payloadType))")
            row("  local", leg.local)
            row("  remote", leg.remote ?? "-")
            if let pair = leg.iceSelectedPair { row("  ICE", "selected \(pair)") }
            if let role = leg.dtlsRole { row("  DTLS", "\(role), \(leg.srtpProfile ?? "handshake not done")") }
            if let direction = leg.direction { row("  direction", direction + (leg.latched == true ? ", latched" : "")) }
            row("  received", figures(leg.received))
            row("  sent", figures(leg.sent))
            row("  quality", "RTT \(number(leg.roundTripMilliseconds)) ms, MOS \(number(leg.mos))")
            let dropped = leg.dropped.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            if !dropped.isEmpty { row("  dropped", dropped.joined(separator: ", ")) }
        }
        if !call.bridge.isEmpty {
            lines.append("")
            row("Bridge", call.bridge.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    static func figures(_ figures: StreamFigures) -> String {
        var text = "\(figures.packets) packets, \(figures.payloadBytes) bytes"
        if let lost = figures.lost { text += ", \(lost) lost" }
        if let fraction = figures.lossFraction { text += ", \(number(fraction * 100)) % lost" }
        if let jitter = figures.jitterMilliseconds { text += ", jitter \(number(jitter)) ms" }
        return text
    }

    public static func registrations(_ registrations: [RegistrationInfo]) -> String {
        guard !registrations.isEmpty else { return "no registrations" }
        return table(["USER", "EXPIRES", "CONTACT"], registrations.map { [$0.user, StatusFormatter.duration($0.expiresInSeconds), $0.contact] },
                     widths: [12, 8, 56])
    }

    public static func trunks(_ trunks: [TrunkInfo]) -> String {
        guard !trunks.isEmpty else { return "no trunks configured" }
        return table(["TRUNK", "ADDRESS", "STATE", "OPTIONS RTT", "REGISTRATION", "CALLS"], trunks.map {
            [$0.name, $0.address, $0.availability, $0.optionsRoundTripMilliseconds.map { number($0) + " ms" } ?? "-", $0.registration,
             $0.maxCalls > 0 ? "\($0.activeCalls)/\($0.maxCalls)" : "\($0.activeCalls)"]
        }, widths: [12, 22, 10, 11, 12, 5])
    }
}
