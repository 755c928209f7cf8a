// The client side of SIP digest authentication: answering a 401 or 407 challenge with
// credentials (RFC 3261 §22.2–§22.4, RFC 7616 §3.4, RFC 8760 §2.4 for choosing among several
// challenges). Sans-IO: the caller passes the challenge header values in and puts the returned
// credentials on the retried request.

/// Answers Digest challenges for one account.
///
/// Keeps the nonce count per nonce, so answering the same nonce again (a retried REGISTER with a
/// nonce the server lets us reuse) sends nc=00000002 and so on.
public struct DigestClient: Sendable {
    public var username: String
    public var password: String
    /// The realm the account belongs to; when set, challenges for other realms are not answered.
    public var realm: String?
    private let makeClientNonce: @Sendable () -> String
    private var nonceCounts: [String: UInt32] = [:]

    /// How many nonces' counts are remembered before the table is cleared.
    private static let nonceCountCapacity = 16

    /// - Parameters:
    ///   - realm: the expected realm, or nil to answer any realm.
    ///   - clientNonce: produces the `cnonce` of each answer; random by default (tests pin it).
    public init(
        username: String, password: String, realm: String? = nil,
        clientNonce: @escaping @Sendable () -> String = DigestClient.randomClientNonce
    ) {
        self.username = username
        self.password = password
        self.realm = realm
        self.makeClientNonce = clientNonce
    }

    /// 16 random bytes from OpenSSL, as 32 hex digits.
    public static func randomClientNonce() -> String { DigestCrypto.hex(DigestCrypto.randomBytes(16)) }

    /// The credentials answering the strongest acceptable challenge, or nil if none is acceptable.
    ///
    /// A challenge is acceptable when its realm matches ``realm`` (if set) and it offers qop=auth or
    /// no qop at all. Among acceptable ones, SHA-256 beats MD5 (RFC 8760 §2.4); ties go to the
    /// earliest offered.
    public mutating func answer(_ challenges: [DigestChallenge], method: String, uri: String) -> DigestCredentials? {
        var best: DigestChallenge?
        for challenge in challenges where isAcceptable(challenge) {
            if best == nil || challenge.algorithm.strength > best!.algorithm.strength { best = challenge }
        }
        guard let best else { return nil }
        return answer(best, method: method, uri: uri)
    }

    /// The credentials answering the strongest acceptable challenge among raw header values (all
    /// the WWW-Authenticate, or all the Proxy-Authenticate, values of a response). Values that do
    /// not parse, use another scheme or an unknown algorithm are skipped.
    public mutating func answer(headerValues: [String], method: String, uri: String) -> DigestCredentials? {
        answer(headerValues.compactMap { try? DigestChallenge(parsing: $0) }, method: method, uri: uri)
    }

    /// The credentials answering one challenge, or nil when it is not acceptable (another realm,
    /// or only qop values other than `auth`).
    public mutating func answer(_ challenge: DigestChallenge, method: String, uri: String) -> DigestCredentials? {
        guard isAcceptable(challenge) else { return nil }
        let useQOP = !challenge.qopOptions.isEmpty
        let cnonce = useQOP || challenge.algorithm.isSession ? makeClientNonce() : nil
        var nc: UInt32?
        if useQOP {
            if nonceCounts[challenge.nonce] == nil, nonceCounts.count >= Self.nonceCountCapacity {
                nonceCounts.removeAll(keepingCapacity: true)
            }
            let next = (nonceCounts[challenge.nonce] ?? 0) &+ 1
            nonceCounts[challenge.nonce] = next
            nc = next
        }
        let qop: String? = useQOP ? "auth" : nil
        guard
            let response = try? Digest.response(
                algorithm: challenge.algorithm, username: username, realm: challenge.realm, password: password,
                nonce: challenge.nonce, nc: nc, cnonce: cnonce, qop: qop, method: method, uri: uri)
        else { return nil }
        return DigestCredentials(
            username: username, realm: challenge.realm, nonce: challenge.nonce, uri: uri, response: response,
            algorithm: challenge.algorithm, cnonce: cnonce, nc: nc, qop: qop, opaque: challenge.opaque)
    }

    private func isAcceptable(_ challenge: DigestChallenge) -> Bool {
        if let realm, realm != challenge.realm { return false }
        return challenge.qopOptions.isEmpty || challenge.qopOptions.contains { $0.lowercased() == "auth" }
    }
}
