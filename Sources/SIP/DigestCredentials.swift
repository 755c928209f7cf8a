// Digest credentials: the value of an Authorization or Proxy-Authorization header (RFC 3261
// §20.7, §20.28, §22.4 and §25.1 `digest-response`; RFC 7616 §3.4; RFC 8760 §2.3).

/// Digest credentials as carried by an Authorization or Proxy-Authorization header.
public struct DigestCredentials: Sendable, Hashable {
    public var username: String
    public var realm: String
    /// The server nonce being answered.
    public var nonce: String
    /// The `uri` parameter: the Request-URI the response was computed over.
    public var uri: String
    /// The request digest, lowercase hex.
    public var response: String
    /// The algorithm; MD5 when the header omits it.
    public var algorithm: DigestAlgorithm
    /// The client nonce; present whenever `qop` is.
    public var cnonce: String?
    /// The nonce count; eight hex digits on the wire, present whenever `qop` is.
    public var nc: UInt32?
    /// The qop chosen (`auth`), or nil for an RFC 2069 style response.
    public var qop: String?
    /// The `opaque` value of the challenge, echoed.
    public var opaque: String?
    /// Parameters this implementation does not interpret, kept for serialization.
    public var otherParameters: [DigestAuthParameter]

    public init(
        username: String, realm: String, nonce: String, uri: String, response: String,
        algorithm: DigestAlgorithm = .md5, cnonce: String? = nil, nc: UInt32? = nil, qop: String? = nil,
        opaque: String? = nil, otherParameters: [DigestAuthParameter] = []
    ) {
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithm = algorithm
        self.cnonce = cnonce
        self.nc = nc
        self.qop = qop
        self.opaque = opaque
        self.otherParameters = otherParameters
    }

    private static let knownParameters: Set<String> = [
        "username", "realm", "nonce", "uri", "response", "algorithm", "cnonce", "nc", "qop", "opaque",
    ]

    /// Reads a header value such as `Digest username="alice", realm="…", nonce="…", uri="…", response="…"`.
    ///
    /// `username`, `realm`, `nonce`, `uri` and `response` are required, and `cnonce` and `nc`
    /// too when `qop` is present (RFC 7616 §3.4); `nc` must be eight hex digits.
    public init(parsing value: String) throws(DigestParseError) {
        let list = try DigestParameterList(parsing: value)
        username = try list.required("username")
        realm = try list.required("realm")
        nonce = try list.required("nonce")
        uri = try list.required("uri")
        response = try list.required("response")
        algorithm = try list.algorithm()
        cnonce = list.value("cnonce")
        opaque = list.value("opaque")
        qop = list.value("qop")
        if let text = list.value("nc") {
            guard text.utf8.count == 8, text.utf8.allSatisfy(\.isHexDigit), let count = UInt32(text, radix: 16) else {
                throw DigestParseError(.invalidValue, parameter: "nc", "nc \(text) is not eight hex digits")
            }
            nc = count
        } else {
            nc = nil
        }
        if qop != nil {
            if cnonce == nil { throw DigestParseError(.missingParameter, parameter: "cnonce", "qop is present but cnonce is missing") }
            if nc == nil { throw DigestParseError(.missingParameter, parameter: "nc", "qop is present but nc is missing") }
        }
        otherParameters = list.others(excluding: Self.knownParameters)
    }

    /// The header value, `Digest username="…", realm="…", …`, with `algorithm` always written.
    public var headerValue: String {
        var writer = DigestParameterWriter()
        writer.quoted("username", username)
        writer.quoted("realm", realm)
        writer.quoted("nonce", nonce)
        writer.quoted("uri", uri)
        writer.quoted("response", response)
        writer.token("algorithm", algorithm.rawValue)
        if let cnonce { writer.quoted("cnonce", cnonce) }
        if let opaque { writer.quoted("opaque", opaque) }
        if let qop { writer.token("qop", qop) }
        if let nc { writer.token("nc", Digest.nonceCountText(nc)) }
        for parameter in otherParameters { writer.quoted(parameter.name, parameter.value) }
        return writer.text
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"):
            return true
        default:
            return false
        }
    }
}
