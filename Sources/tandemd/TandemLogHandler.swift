// swift-log handler writing one line per event to stderr. Under systemd (JOURNAL_STREAM set) each
// line starts with the syslog priority (`<6>`), which journald turns into the entry's priority,
// and carries no timestamp of its own; elsewhere lines start with an ISO 8601 UTC timestamp.
// The threshold is shared by every logger so a reload can change it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization

/// The process-wide log threshold.
final class LogThreshold: Sendable {
    private let raw: Atomic<Int>
    private static let levels = Logger.Level.allCases

    init(_ level: Logger.Level) { raw = Atomic(LogThreshold.levels.firstIndex(of: level)!) }

    var level: Logger.Level {
        get { LogThreshold.levels[raw.load(ordering: .relaxed)] }
        set { raw.store(LogThreshold.levels.firstIndex(of: newValue)!, ordering: .relaxed) }
    }
}

struct TandemLogHandler: LogHandler {
    let label: String
    let threshold: LogThreshold
    let journal: Bool
    var metadata: Logger.Metadata = [:]

    init(label: String, threshold: LogThreshold, journal: Bool) {
        self.label = label
        self.threshold = threshold
        self.journal = journal
    }

    var logLevel: Logger.Level {
        get { threshold.level }
        set { threshold.level = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = journal ? "<\(Self.priority(event.level))>" : "\(Self.timestamp()) \(event.level) "
        line += "\(label): \(event.message)"
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted() {
            line += " \(key)=\(Self.quoted("\(merged[key]!)"))"
        }
        line += "\n"
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { break }
            offset += written
        }
    }

    /// Values with spaces or quotes are quoted so lines stay machine-readable.
    /// Backslashes, quotes and control characters are escaped, so a value (a SIP user name, a
    /// Call-ID) can neither end the line nor forge a field of its own.
    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.unicodeScalars.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || $0.value < 0x20 || $0.value == 0x7f })
        else { return value }
        var text = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f: text += "\\x" + String(scalar.value, radix: 16)
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }

    /// syslog(3) priorities, as sd-daemon(3) prefixes use them.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
