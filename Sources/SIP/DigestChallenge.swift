// A Digest challenge: the value of a WWW-Authenticate (401) or Proxy-Authenticate (407) header
// (RFC 3261 §20.27, §20.44, §22.4 and §25.1 `digest-cln`; RFC 7616 §3.3; RFC 8760 §2.2).

/// A Digest challenge as carried by a WWW-Authenticate or Proxy-Authenticate header.
public struct DigestChallenge: Sendable, Hashable {
    /// The protection space; shown to users and part of H(A1).
    public var realm: String
    /// The server nonce.
    public var nonce: String
    /// Data the client returns unchanged.
    public var opaque: String?
    /// The algorithm; MD5 when the header omits it.
    public var algorithm: DigestAlgorithm
    /// The qop values offered (`auth`, `auth-int`); empty when the header has no qop (RFC 2069 style).
    public var qopOptions: [String]
    /// Whether the previous request was refused only because its nonce had expired.
    public var stale: Bool
    /// The `domain` parameter, a space-separated URI list, verbatim.
    public var domain: String?
    /// Parameters this implementation does not interpret, kept for serialization.
    public var otherParameters: [DigestAuthParameter]

    public init(
        realm: String, nonce: String, opaque: String? = nil, algorithm: DigestAlgorithm = .md5,
        qopOptions: [String] = ["auth"], stale: Bool = false, domain: String? = nil,
        otherParameters: [DigestAuthParameter] = []
    ) {
        self.realm = realm
        self.nonce = nonce
        self.opaque = opaque
        self.algorithm = algorithm
        self.qopOptions = qopOptions
        self.stale = stale
        self.domain = domain
        self.otherParameters = otherParameters
    }

    private static let knownParameters: Set<String> = ["realm", "nonce", "opaque", "algorithm", "qop", "stale", "domain"]

    /// Reads a header value such as `Digest realm="example.com", nonce="…", qop="auth"`.
    ///
    /// The scheme is matched case-insensitively; `realm` and `nonce` are required; an algorithm
    /// other than those in ``DigestAlgorithm`` is an `invalidValue` error, so a client can skip
    /// that challenge and answer another.
    public init(parsing value: String) throws(DigestParseError) {
        let list = try DigestParameterList(parsing: value)
        realm = try list.required("realm")
        nonce = try list.required("nonce")
        opaque = list.value("opaque")
        algorithm = try list.algorithm()
        // qop-options is a quoted comma list; a bare token is accepted too.
        qopOptions = (list.value("qop") ?? "").split(separator: ",").map {
            String($0.filter { $0 != " " && $0 != "\t" })
        }.filter { !$0.isEmpty }
        stale = list.value("stale")?.lowercased() == "true"
        domain = list.value("domain")
        otherParameters = list.others(excluding: Self.knownParameters)
    }

    /// The header value, `Digest realm="…", nonce="…", …`, with `algorithm` always written.
    public var headerValue: String {
        var writer = DigestParameterWriter()
        writer.quoted("realm", realm)
        if let domain { writer.quoted("domain", domain) }
        writer.quoted("nonce", nonce)
        if let opaque { writer.quoted("opaque", opaque) }
        if stale { writer.token("stale", "TRUE") }
        writer.token("algorithm", algorithm.rawValue)
        if !qopOptions.isEmpty { writer.quoted("qop", qopOptions.joined(separator: ",")) }
        for parameter in otherParameters { writer.quoted(parameter.name, parameter.value) }
        return writer.text
    }
}
