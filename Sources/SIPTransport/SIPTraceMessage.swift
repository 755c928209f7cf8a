// What the SIP trace knows about one message without parsing it fully: the start line, the
// Call-ID and the users of the Request-URI, From and To (RFC 3261 §7.1, §7.3.3 compact forms
// i, f, t), read from the raw bytes so that even a message the stack refuses can be traced. The
// filter a trace runs with (`tandemctl trace on --call ID --user U`) matches against these.

import NIOCore
import SIP

/// The headline facts of one SIP message.
public struct SIPTraceSummary: Sendable, Equatable {
    /// "INVITE", or the status code and reason of a response ("200 OK").
    public var firstLine: String
    public var callID: String?
    public var requestUser: String?
    public var fromUser: String?
    public var toUser: String?

    public init(firstLine: String, callID: String?, requestUser: String?, fromUser: String?, toUser: String?) {
        self.firstLine = firstLine
        self.callID = callID
        self.requestUser = requestUser
        self.fromUser = fromUser
        self.toUser = toUser
    }

    /// Scans the start line and the header block; anything missing stays nil.
    public init(scanning bytes: ByteBuffer) {
        let view = bytes.readableBytesView
        let headerEnd = view.firstRange(of: [13, 10, 13, 10]).map(\.lowerBound) ?? view.endIndex
        let text = String(decoding: view[view.startIndex..<headerEnd], as: UTF8.self)
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map { $0.trimmingSuffix("\r") }
        let start = lines.isEmpty ? "" : lines.removeFirst()
        callID = nil
        fromUser = nil
        toUser = nil
        requestUser = nil
        if start.hasPrefix("SIP/") {
            firstLine = String(start.drop { $0 != " " }.dropFirst())
        } else {
            let parts = start.split(separator: " ")
            firstLine = parts.first.map(String.init) ?? ""
            if parts.count > 1 { requestUser = Self.user(inURI: Substring(parts[1])) }
        }
        for line in lines where !line.hasPrefix(" ") && !line.hasPrefix("\t") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingSuffix(" ").lowercased()
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            switch name {
            case "call-id", "i": if callID == nil { callID = String(value.trimmingSuffix(" ")) }
            case "from", "f": if fromUser == nil { fromUser = Self.user(inURI: value) }
            case "to", "t": if toUser == nil { toUser = Self.user(inURI: value) }
            default: break
            }
        }
    }

    /// The user part of the first sip:, sips: or tel: URI in `text` (a Request-URI or a
    /// name-addr), nil when it has none.
    static func user(inURI text: Substring) -> String? {
        let lower = text.lowercased()
        for scheme in ["sips:", "sip:", "tel:"] {
            guard let range = lower.firstRange(of: scheme) else { continue }
            let offset = lower.distance(from: lower.startIndex, to: range.upperBound)
            let rest = text.dropFirst(offset)
            let stop = rest.firstIndex { ";>? \t,".contains($0) } ?? rest.endIndex
            let uri = rest[..<stop]
            if scheme == "tel:" { return uri.isEmpty ? nil : String(uri) }
            guard let at = uri.lastIndex(of: "@") else { return nil }
            let user = uri[..<at].prefix { $0 != ":" }  // no password part
            return user.isEmpty ? nil : String(user)
        }
        return nil
    }
}

/// Which messages a running trace keeps: all, those of one Call-ID, those of one user (in the
/// Request-URI, From or To), or both conditions at once.
public struct SIPTraceFilter: Sendable, Equatable, CustomStringConvertible {
    public var callID: String?
    public var user: String?

    public init(callID: String? = nil, user: String? = nil) {
        self.callID = callID.flatMap { $0.isEmpty ? nil : $0 }
        self.user = user.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func matches(_ message: SIPTraceSummary) -> Bool {
        if let callID, message.callID != callID { return false }
        if let user, ![message.requestUser, message.fromUser, message.toUser].contains(user) { return false }
        return true
    }

    public var description: String {
        var parts: [String] = []
        if let callID { parts.append("call \(callID)") }
        if let user { parts.append("user \(user)") }
        return parts.isEmpty ? "all messages" : parts.joined(separator: ", ")
    }
}

extension StringProtocol {
    fileprivate func trimmingSuffix(_ character: Character) -> Substring {
        var result = Substring(self)
        while result.last == character { result = result.dropLast() }
        return result
    }
}
