// SIP requests and responses (RFC 3261 §7): start line, headers, body. Typed views of the headers
// every transaction and dialog needs (Via, CSeq, Call-ID, From, To, Max-Forwards) parse on demand.

/// A SIP request.
public struct SIPRequest: Sendable, Hashable {
    public var method: SIPMethod
    public var uri: SIPURI
    /// `SIP/2.0` for every message Tandem sends; others are parsed so a 505 can be answered.
    public var version: String
    public var headers: SIPHeaders
    public var body: [UInt8]

    public init(method: SIPMethod, uri: SIPURI, headers: SIPHeaders = SIPHeaders(), body: [UInt8] = [], version: String = "SIP/2.0") {
        self.method = method
        self.uri = uri
        self.version = version
        self.headers = headers
        self.body = body
    }
}

/// A SIP response.
public struct SIPResponse: Sendable, Hashable {
    public var version: String
    public var statusCode: Int
    public var reason: String
    public var headers: SIPHeaders
    public var body: [UInt8]

    public init(statusCode: Int, reason: String? = nil, headers: SIPHeaders = SIPHeaders(), body: [UInt8] = [], version: String = "SIP/2.0") {
        self.version = version
        self.statusCode = statusCode
        self.reason = reason ?? SIPResponse.defaultReason(statusCode)
        self.headers = headers
        self.body = body
    }

    /// 1xx.
    public var isProvisional: Bool { statusCode < 200 }
    /// 2xx.
    public var isSuccess: Bool { (200..<300).contains(statusCode) }

    /// The RFC 3261 §21 reason phrase of common codes.
    public static func defaultReason(_ code: Int) -> String {
        switch code {
        case 100: return "Trying"
        case 180: return "Ringing"
        case 181: return "Call Is Being Forwarded"
        case 182: return "Queued"
        case 183: return "Session Progress"
        case 200: return "OK"
        case 202: return "Accepted"
        case 301: return "Moved Permanently"
        case 302: return "Moved Temporarily"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 407: return "Proxy Authentication Required"
        case 408: return "Request Timeout"
        case 415: return "Unsupported Media Type"
        case 416: return "Unsupported URI Scheme"
        case 420: return "Bad Extension"
        case 422: return "Session Interval Too Small"
        case 423: return "Interval Too Brief"
        case 480: return "Temporarily Unavailable"
        case 481: return "Call/Transaction Does Not Exist"
        case 482: return "Loop Detected"
        case 483: return "Too Many Hops"
        case 484: return "Address Incomplete"
        case 486: return "Busy Here"
        case 487: return "Request Terminated"
        case 488: return "Not Acceptable Here"
        case 491: return "Request Pending"
        case 500: return "Server Internal Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Server Time-out"
        case 505: return "Version Not Supported"
        case 513: return "Message Too Large"
        case 600: return "Busy Everywhere"
        case 603: return "Decline"
        case 604: return "Does Not Exist Anywhere"
        case 606: return "Not Acceptable"
        default: return "Unknown"
        }
    }
}

/// A SIP message.
public enum SIPMessage: Sendable, Hashable {
    case request(SIPRequest)
    case response(SIPResponse)

    public var headers: SIPHeaders {
        switch self {
        case .request(let request): return request.headers
        case .response(let response): return response.headers
        }
    }

    public var body: [UInt8] {
        switch self {
        case .request(let request): return request.body
        case .response(let response): return response.body
        }
    }
}

// MARK: - Typed header access

extension SIPHeaders {
    /// The top Via.
    public func topVia() throws(SIPParseError) -> SIPVia {
        guard let first = try list("Via").first else { throw SIPParseError(.headerValue, "missing Via") }
        return try SIPVia(parsing: first)
    }

    public func cseq() throws(SIPParseError) -> SIPCSeq {
        guard let value = self["CSeq"] else { throw SIPParseError(.headerValue, "missing CSeq") }
        return try SIPCSeq(parsing: value)
    }

    public func callID() throws(SIPParseError) -> String {
        guard let value = self["Call-ID"], !SIPGrammar.trimmed(value).isEmpty else {
            throw SIPParseError(.headerValue, "missing Call-ID")
        }
        let trimmed = SIPGrammar.trimmed(value)
        guard !trimmed.contains(where: { $0 == " " || $0 == "\t" }) else {
            throw SIPParseError(.headerValue, "Call-ID contains white space")
        }
        return String(trimmed)
    }

    public func from() throws(SIPParseError) -> SIPNameAddress {
        guard let value = self["From"] else { throw SIPParseError(.headerValue, "missing From") }
        return try SIPNameAddress(parsing: value)
    }

    public func to() throws(SIPParseError) -> SIPNameAddress {
        guard let value = self["To"] else { throw SIPParseError(.headerValue, "missing To") }
        return try SIPNameAddress(parsing: value)
    }

    /// Max-Forwards, or nil when absent.
    public func maxForwards() throws(SIPParseError) -> Int? {
        guard let value = self["Max-Forwards"] else { return nil }
        let trimmed = SIPGrammar.trimmed(value)
        guard !trimmed.isEmpty, trimmed.count <= 10, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(trimmed), number <= 255 else {
            throw SIPParseError(.headerValue, "bad Max-Forwards '\(value)'")
        }
        return number
    }

    /// A header holding a non-negative decimal number (Expires, Content-Length, Min-Expires…).
    public func number(_ name: String) throws(SIPParseError) -> UInt32? {
        guard let value = self[name] else { return nil }
        let trimmed = SIPGrammar.trimmed(value)
        guard !trimmed.isEmpty, trimmed.count <= 10, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }), let number = UInt32(trimmed) else {
            throw SIPParseError(.headerValue, "bad \(name) '\(value)'")
        }
        return number
    }
}

extension SIPRequest {
    /// Checks what RFC 3261 §8.1.1 requires of every request, as a UAS must before acting on it:
    /// the mandatory headers are present and parse, and CSeq's method matches the request's.
    /// Throws the reason for a 400.
    public func validate() throws(SIPParseError) {
        _ = try headers.topVia()
        _ = try headers.from()
        _ = try headers.to()
        _ = try headers.callID()
        let cseq = try headers.cseq()
        guard cseq.method == method else {
            throw SIPParseError(.headerValue, "CSeq method \(cseq.method) does not match \(method)")
        }
        _ = try headers.maxForwards()
        for name in ["Contact", "Route", "Record-Route"] {
            for element in try headers.list(name) where !(name == "Contact" && element == "*") {
                _ = try SIPNameAddress(parsing: element)
            }
        }
        _ = try headers.number("Expires")
    }
}

extension SIPResponse {
    /// Checks the headers a UAC needs to match a response to its transaction (§8.1.3).
    public func validate() throws(SIPParseError) {
        _ = try headers.topVia()
        _ = try headers.from()
        _ = try headers.to()
        _ = try headers.callID()
        _ = try headers.cseq()
    }
}
