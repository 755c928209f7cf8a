// Small pieces of the RFC 3261 §25.1 grammar shared by the message, URI and header parsers:
// token characters, linear white space, quoted strings with escapes, splitting comma lists and
// `;name=value` parameter lists outside quotes and angle brackets.

enum SIPGrammar {
    /// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
    static func isTokenCharacter(_ c: Character) -> Bool {
        guard c.isASCII, let ascii = c.asciiValue else { return false }
        switch ascii {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "-.!%*_+`'~".contains(c)
        }
    }

    static func isToken<S: StringProtocol>(_ text: S) -> Bool {
        !text.isEmpty && text.allSatisfy(isTokenCharacter)
    }

    static func isWhitespace(_ c: Character) -> Bool { c == " " || c == "\t" }

    static func trimmed<S: StringProtocol>(_ text: S) -> Substring {
        var s = Substring(text)
        while let first = s.first, isWhitespace(first) || first == "\r" || first == "\n" { s = s.dropFirst() }
        while let last = s.last, isWhitespace(last) || last == "\r" || last == "\n" { s = s.dropLast() }
        return s
    }

    /// Splits `text` at `separator` where it is not inside a quoted string or angle brackets.
    static func split(_ text: Substring, on separator: Character) throws(SIPParseError) -> [Substring] {
        var parts: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        var inQuotes = false
        var angleDepth = 0
        while index < text.endIndex {
            let c = text[index]
            if inQuotes {
                if c == "\\" {
                    index = text.index(after: index)
                    if index == text.endIndex { break }
                } else if c == "\"" {
                    inQuotes = false
                }
            } else if c == "\"" {
                inQuotes = true
            } else if c == "<" {
                angleDepth += 1
            } else if c == ">" {
                angleDepth -= 1
                if angleDepth < 0 { throw SIPParseError(.headerValue, "unbalanced '>'") }
            } else if c == separator && angleDepth == 0 {
                parts.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        if inQuotes { throw SIPParseError(.headerValue, "unterminated quoted string") }
        if angleDepth != 0 { throw SIPParseError(.headerValue, "unbalanced '<'") }
        parts.append(text[start..<text.endIndex])
        return parts
    }

    /// Reads a quoted-string starting at `text.first == "\""`; returns the unescaped content and
    /// the rest after the closing quote.
    static func quotedString(_ text: Substring) throws(SIPParseError) -> (value: String, rest: Substring) {
        guard text.first == "\"" else { throw SIPParseError(.headerValue, "expected a quoted string") }
        var value = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let c = text[index]
            if c == "\\" {
                index = text.index(after: index)
                guard index < text.endIndex else { break }
                value.append(text[index])
            } else if c == "\"" {
                return (value, text[text.index(after: index)...])
            } else {
                value.append(c)
            }
            index = text.index(after: index)
        }
        throw SIPParseError(.headerValue, "unterminated quoted string")
    }

    /// Writes `value` as a quoted-string, escaping `"` and `\`.
    static func quote(_ value: String) -> String {
        var result = "\""
        for c in value {
            if c == "\"" || c == "\\" { result.append("\\") }
            result.append(c)
        }
        return result + "\""
    }
}

/// An ordered list of `;name[=value]` parameters (URI or header parameters). Names compare
/// case-insensitively; values are kept as written (quoted values keep their quotes).
public struct SIPParameters: Sendable, Hashable, Sequence {
    public private(set) var items: [(name: String, value: String?)]

    public init() { items = [] }

    public static func == (lhs: SIPParameters, rhs: SIPParameters) -> Bool {
        lhs.items.count == rhs.items.count
            && zip(lhs.items, rhs.items).allSatisfy { $0.name.lowercased() == $1.name.lowercased() && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for item in items {
            hasher.combine(item.name.lowercased())
            hasher.combine(item.value)
        }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String?)]> { items.makeIterator() }

    /// Whether the parameter is present (with or without a value).
    public func contains(_ name: String) -> Bool { items.contains { $0.name.caseInsensitiveEquals(name) } }

    /// The parameter's value; nil when absent or valueless.
    public subscript(name: String) -> String? {
        get { items.first { $0.name.caseInsensitiveEquals(name) }?.value ?? nil }
        set {
            if let index = items.firstIndex(where: { $0.name.caseInsensitiveEquals(name) }) {
                items[index].value = newValue
            } else {
                items.append((name, newValue))
            }
        }
    }

    /// Adds or replaces a parameter; a nil value writes it as a flag (`;lr`).
    public mutating func set(_ name: String, _ value: String?) {
        if let index = items.firstIndex(where: { $0.name.caseInsensitiveEquals(name) }) {
            items[index].value = value
        } else {
            items.append((name, value))
        }
    }

    public mutating func remove(_ name: String) { items.removeAll { $0.name.caseInsensitiveEquals(name) } }

    /// Parses `;a=b;c` (the text after the main value, starting with ';' or empty).
    static func parse(_ text: Substring, separator: Character = ";") throws(SIPParseError) -> SIPParameters {
        var result = SIPParameters()
        let trimmed = SIPGrammar.trimmed(text)
        guard !trimmed.isEmpty else { return result }
        guard trimmed.first == separator else {
            throw SIPParseError(.headerValue, "unexpected text '\(trimmed)' before parameters")
        }
        for part in try SIPGrammar.split(trimmed.dropFirst(), on: separator) {
            let piece = SIPGrammar.trimmed(part)
            guard !piece.isEmpty else { throw SIPParseError(.headerValue, "empty parameter") }
            if let equals = piece.firstIndex(of: "=") {
                let name = SIPGrammar.trimmed(piece[..<equals])
                let value = SIPGrammar.trimmed(piece[piece.index(after: equals)...])
                guard SIPGrammar.isToken(name) else { throw SIPParseError(.headerValue, "bad parameter name '\(name)'") }
                if value.first == "\"" {
                    let quoted = try SIPGrammar.quotedString(value)
                    guard SIPGrammar.trimmed(quoted.rest).isEmpty else { throw SIPParseError(.headerValue, "text after quoted parameter value") }
                }
                result.items.append((String(name), String(value)))
            } else {
                guard SIPGrammar.isToken(piece) else { throw SIPParseError(.headerValue, "bad parameter '\(piece)'") }
                result.items.append((String(piece), nil))
            }
        }
        return result
    }

    /// `;a=b;c`, or empty.
    public var description: String {
        items.map { ";" + $0.name + ($0.value.map { "=" + $0 } ?? "") }.joined()
    }
}

extension StringProtocol {
    func caseInsensitiveEquals<Other: StringProtocol>(_ other: Other) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        return zip(utf8, other.utf8).allSatisfy { a, b in
            let x = (a >= 65 && a <= 90) ? a + 32 : a
            let y = (b >= 65 && b <= 90) ? b + 32 : b
            return x == y
        }
    }
}
