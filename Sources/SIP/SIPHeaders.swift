// The header section of a SIP message (RFC 3261 §7.3): an ordered list of fields whose names
// compare case-insensitively, with compact forms (§7.3.3, RFC 3261 §20 and later RFCs) expanded to
// their long names on input. Values are kept as written, folding already unfolded.

/// Ordered SIP header fields.
public struct SIPHeaders: Sendable, Hashable, Sequence {
    public struct Field: Sendable, Hashable {
        /// The canonical (long, conventionally capitalized) name.
        public var name: String
        public var value: String
    }

    public private(set) var fields: [Field] = []

    public init() {}

    public init(_ pairs: [(String, String)]) {
        for (name, value) in pairs { add(name, value) }
    }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    public var count: Int { fields.count }

    /// The first value of `name` (any spelling or compact form), or nil.
    public subscript(name: String) -> String? {
        let canonical = SIPHeaders.canonicalName(name)
        return fields.first { $0.name == canonical }?.value
    }

    /// Every field value of `name`, in order, not split at commas.
    public func values(_ name: String) -> [String] {
        let canonical = SIPHeaders.canonicalName(name)
        return fields.filter { $0.name == canonical }.map(\.value)
    }

    /// Every element of a comma-separated list header (Via, Contact, Route, Allow, Supported…),
    /// over all its fields, trimmed. Commas inside quotes or angle brackets do not split.
    public func list(_ name: String) throws(SIPParseError) -> [String] {
        var result: [String] = []
        for value in values(name) {
            for part in try SIPGrammar.split(Substring(value), on: ",") {
                let item = SIPGrammar.trimmed(part)
                if !item.isEmpty { result.append(String(item)) }
            }
        }
        return result
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field.
    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: SIPHeaders.canonicalName(name), value: value))
    }

    /// Inserts a field before every other (a new top Via, Record-Route, Route).
    public mutating func prepend(_ name: String, _ value: String) {
        fields.insert(Field(name: SIPHeaders.canonicalName(name), value: value), at: 0)
    }

    /// Replaces every field of `name` with one field, keeping the first one's position.
    public mutating func set(_ name: String, _ value: String) {
        let canonical = SIPHeaders.canonicalName(name)
        if let index = fields.firstIndex(where: { $0.name == canonical }) {
            fields[index].value = value
            var seen = false
            fields.removeAll { field in
                guard field.name == canonical else { return false }
                defer { seen = true }
                return seen
            }
        } else {
            fields.append(Field(name: canonical, value: value))
        }
    }

    public mutating func remove(_ name: String) {
        let canonical = SIPHeaders.canonicalName(name)
        fields.removeAll { $0.name == canonical }
    }

    /// Removes the first element of a list header: the first comma-separated value of its first
    /// field (the top Via, the first Route).
    public mutating func removeFirstElement(_ name: String) throws(SIPParseError) {
        let canonical = SIPHeaders.canonicalName(name)
        guard let index = fields.firstIndex(where: { $0.name == canonical }) else { return }
        let parts = try SIPGrammar.split(Substring(fields[index].value), on: ",")
        if parts.count <= 1 {
            fields.remove(at: index)
        } else {
            fields[index].value = parts.dropFirst().map { String(SIPGrammar.trimmed($0)) }.joined(separator: ", ")
        }
    }

    // MARK: Names

    private static let compactForms: [String: String] = [
        "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length", "c": "Content-Type",
        "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via", "o": "Event", "r": "Refer-To",
        "b": "Referred-By", "u": "Allow-Events", "x": "Session-Expires", "a": "Accept-Contact",
        "j": "Reject-Contact", "d": "Request-Disposition", "y": "Identity",
    ]

    private static let irregular: [String: String] = [
        "call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate", "rseq": "RSeq",
        "rack": "RAck", "min-se": "Min-SE", "mime-version": "MIME-Version", "sip-etag": "SIP-ETag",
        "sip-if-match": "SIP-If-Match", "p-asserted-identity": "P-Asserted-Identity",
        "p-preferred-identity": "P-Preferred-Identity",
    ]

    /// The canonical spelling of a header name: compact forms expanded, known irregular names
    /// spelled as the RFCs do, others capitalized at each '-'.
    public static func canonicalName<S: StringProtocol>(_ name: S) -> String {
        let lower = name.lowercased()
        if lower.count == 1, let long = compactForms[lower] { return long }
        if let special = irregular[lower] { return special }
        var result = ""
        var capitalizeNext = true
        for c in lower {
            result.append(capitalizeNext ? Character(c.uppercased()) : c)
            capitalizeNext = c == "-"
        }
        return result
    }
}
