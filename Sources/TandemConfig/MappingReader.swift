// Reads typed values out of one YAML mapping with their source lines, and reports wrong types,
// values out of range and unknown keys (with the nearest known key as a suggestion). A reader
// records problems in a DiagnosticLog and returns the default, so one pass finds every problem.

import Yams

final class MappingReader {
    let file: String
    let path: String
    let line: Int
    let log: DiagnosticLog
    private var entries: [(key: String, line: Int, value: Node)] = []
    private var asked: [String] = []
    private var used: Set<String> = []

    /// Reads `node` as a mapping; reports and returns nil when it is something else.
    init?(_ node: Node, file: String, path: String, log: DiagnosticLog) {
        self.file = file
        self.path = path
        self.line = node.mark?.line ?? 0
        self.log = log
        guard let mapping = node.mapping else {
            if !MappingReader.isNull(node) {
                log.error(file, line, path, "expected a mapping of keys to values, found \(MappingReader.describe(node))")
            }
            return nil
        }
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                log.error(file, key.mark?.line ?? line, path, "keys must be plain names")
                continue
            }
            entries.append((name, key.mark?.line ?? line, value))
        }
    }

    /// The key path of `key` inside this mapping.
    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Where `key` is written, or where the mapping starts when it is absent.
    func location(_ key: String) -> SourceLocation {
        SourceLocation(file: file, line: entries.first { $0.key == key }?.line ?? line, key: keyPath(key))
    }

    /// Where the mapping itself starts.
    var mappingLocation: SourceLocation { SourceLocation(file: file, line: line, key: path) }

    func has(_ key: String) -> Bool {
        entries.contains { $0.key == key && !MappingReader.isNull($0.value) }
    }

    /// The raw node under `key`, marking the key as known and used.
    func node(_ key: String) -> Node? {
        if !asked.contains(key) { asked.append(key) }
        guard let entry = entries.first(where: { $0.key == key }) else { return nil }
        used.insert(key)
        return MappingReader.isNull(entry.value) ? nil : entry.value
    }

    func error(_ key: String, _ message: String) { log.error(at: location(key), message) }
    func warning(_ key: String, _ message: String) { log.warning(at: location(key), message) }

    // MARK: Scalars

    func string(_ key: String) -> String? {
        guard let value = node(key) else { return nil }
        guard let scalar = value.scalar else {
            error(key, "expected a text value, found \(MappingReader.describe(value))")
            return nil
        }
        return scalar.string
    }

    func string(_ key: String, default fallback: String) -> String { string(key) ?? fallback }

    /// A required text value: reports when missing or empty.
    func requiredString(_ key: String) -> String? {
        guard has(key) else {
            log.error(at: mappingLocation.with(key: keyPath(key)), "is required")
            _ = node(key)
            return nil
        }
        guard let text = string(key) else { return nil }
        if text.isEmpty {
            error(key, "must not be empty")
            return nil
        }
        return text
    }

    func int(_ key: String, in range: ClosedRange<Int>, default fallback: Int) -> Int {
        ranged(key, in: range, default: fallback, expected: "an integer", parse: { Int($0) }, show: { String($0) })
    }

    /// A number, integer or decimal.
    func number(_ key: String, in range: ClosedRange<Double>, default fallback: Double) -> Double {
        ranged(key, in: range, default: fallback, expected: "a number", parse: { Double($0).flatMap { $0.isFinite ? $0 : nil } },
               show: { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) })
    }

    /// A scalar parsed by `parse` (underscores allowed as separators) and checked against `range`.
    private func ranged<T: Comparable>(_ key: String, in range: ClosedRange<T>, default fallback: T, expected: String,
                                       parse: (String) -> T?, show: (T) -> String) -> T {
        guard let value = node(key) else { return fallback }
        guard let scalar = value.scalar, let number = parse(scalar.string.replacingUnderscores()) else {
            error(key, "expected \(expected), found \(MappingReader.describe(value))")
            return fallback
        }
        guard range.contains(number) else {
            error(key, "\(show(number)) is out of range (\(show(range.lowerBound))...\(show(range.upperBound)))")
            return fallback
        }
        return number
    }

    func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let value = node(key) else { return fallback }
        switch value.scalar?.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error(key, "expected true or false, found \(MappingReader.describe(value))")
            return fallback
        }
    }

    /// A duration: a number of seconds, or a number with `ms`, `s`, `m` or `h`.
    func duration(_ key: String, in range: ClosedRange<Duration>, default fallback: Duration) -> Duration {
        guard let value = node(key) else { return fallback }
        guard let text = value.scalar?.string, let parsed = MappingReader.parseDuration(text) else {
            error(key, "expected a duration such as 30, 30s, 500ms or 2m, found \(MappingReader.describe(value))")
            return fallback
        }
        guard range.contains(parsed) else {
            error(key, "\(text) is out of range (\(range.lowerBound.secondsText)...\(range.upperBound.secondsText))")
            return fallback
        }
        return parsed
    }

    /// One of an enumeration's raw values; the message lists the accepted ones.
    func choice<T: RawRepresentable & CaseIterable>(_ key: String, default fallback: T) -> T where T.RawValue == String {
        choice(key) ?? fallback
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String) -> T? where T.RawValue == String {
        guard let value = node(key) else { return nil }
        guard let text = value.scalar?.string, let parsed = T(rawValue: text.lowercased()) ?? T(rawValue: text) else {
            let accepted = T.allCases.map(\.rawValue).joined(separator: ", ")
            error(key, "expected one of \(accepted), found \(MappingReader.describe(value))")
            return nil
        }
        return parsed
    }

    // MARK: Collections

    /// The items of a sequence under `key`, each with its key path and line.
    func sequence(_ key: String) -> [(node: Node, path: String, line: Int)] {
        guard let value = node(key) else { return [] }
        guard let items = value.sequence else {
            error(key, "expected a list, found \(MappingReader.describe(value))")
            return []
        }
        return items.enumerated().map { index, item in
            (item, "\(keyPath(key))[\(index)]", item.mark?.line ?? location(key).line)
        }
    }

    /// A list of text values; a single text value is taken as a list of one.
    func stringList(_ key: String) -> [(value: String, location: SourceLocation)]? {
        guard let value = node(key) else { return nil }
        if let scalar = value.scalar { return [(scalar.string, location(key))] }
        var result: [(String, SourceLocation)] = []
        for item in sequence(key) {
            guard let scalar = item.node.scalar else {
                log.error(file, item.line, item.path, "expected a text value, found \(MappingReader.describe(item.node))")
                continue
            }
            result.append((scalar.string, SourceLocation(file: file, line: item.line, key: item.path)))
        }
        return result
    }

    /// A reader for one mapping item of a list read with `sequence(_:)`.
    func reader(for item: (node: Node, path: String, line: Int)) -> MappingReader? {
        MappingReader(item.node, file: file, path: item.path, log: log)
    }

    /// A list of an enumeration's values in preference order: each one known, none repeated, at
    /// least one. Nil when the key is absent. `spelling` normalizes case before the lookup.
    func choiceList<T: RawRepresentable & CaseIterable & Equatable>(
        _ key: String, noun: String, spelling: (String) -> String
    ) -> [T]? where T.RawValue == String {
        guard let items = stringList(key) else { return nil }
        var result: [T] = []
        for item in items {
            guard let value = T(rawValue: spelling(item.value)) else {
                let accepted = T.allCases.map(\.rawValue).joined(separator: ", ")
                log.error(at: item.location, "unknown \(noun) '\(item.value)' (expected one of \(accepted))")
                continue
            }
            if result.contains(value) {
                log.error(at: item.location, "\(item.value) is listed twice")
                continue
            }
            result.append(value)
        }
        if items.isEmpty { error(key, "must list at least one \(noun)") }
        return result
    }

    /// A nested mapping under `key`.
    func mapping(_ key: String) -> MappingReader? {
        guard let value = node(key) else { return nil }
        return MappingReader(value, file: file, path: keyPath(key), log: log)
    }

    // MARK: Unknown keys

    /// Reports every key that no read asked for: typos, or keys in the wrong section.
    func finish() {
        for entry in entries where !used.contains(entry.key) && !asked.contains(entry.key) {
            var message = "unknown key"
            if let suggestion = MappingReader.nearest(entry.key, in: asked) {
                message += " (did you mean '\(suggestion)'?)"
            }
            log.error(file, entry.line, keyPath(entry.key), message)
        }
    }

    // MARK: Helpers

    static func isNull(_ node: Node) -> Bool {
        guard let scalar = node.scalar else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    static func describe(_ node: Node) -> String {
        if let scalar = node.scalar { return "'\(scalar.string)'" }
        if node.mapping != nil { return "a mapping" }
        if node.sequence != nil { return "a list" }
        return "an alias"
    }

    static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: " ")
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            if suffix == "s" && number.hasSuffix("m") { continue }
            guard let value = Double(number), value >= 0, value.isFinite else { return nil }
            return .milliseconds(Int64((value * scale * 1000).rounded()))
        }
        guard let seconds = Double(trimmed), seconds >= 0, seconds.isFinite else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// The known key closest to `key` by edit distance, if close enough to be a typo.
    static func nearest(_ key: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(2, key.count / 3) ? best.0 : nil
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

extension SourceLocation {
    func with(key: String) -> SourceLocation { SourceLocation(file: file, line: line, key: key) }
}

extension Duration {
    /// Seconds as text, e.g. `30s` or `0.5s`.
    public var secondsText: String {
        let ms = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(Double(ms) / 1000)s"
    }

    /// The duration in seconds, as a Double.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { filter { $0 != "_" } }

    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
