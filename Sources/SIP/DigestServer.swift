// The server side of SIP digest authentication: issuing challenges and verifying credentials
// (RFC 3261 §22.4, RFC 7616 §3.3, §3.5 and §5.4–§5.5, RFC 8760 §2.4 for offering SHA-256 before
// MD5; where MD5 goes depends on which challenge a transport's clients read: docs/interop.md).
// Nonces are stateless: the issue time plus an HMAC-SHA256 over it and the realm, so any nonce
// this server issued can be checked and aged without a table; and a second MAC binds it to what
// the challenged client is (its address), which a replayer elsewhere lacks. Replay from the same
// place is what `NonceCountTracker` stops (nc strictly increasing per nonce, RFC 7616 §3.4).
//
// Nonce layout (hex): 8 bytes of issue time (NIODeadline uptime nanoseconds, big-endian), 8
// random bytes (two challenges in the same instant get different nonces, so their counts never
// collide), the first 16 bytes of HMAC-SHA256(secret, time || random || realm), then the first
// 8 bytes of HMAC-SHA256(secret, time || random || 0 || binding) — 80 hex digits.

import NIOCore

/// The outcome of checking credentials.
public enum DigestVerification: Sendable, Hashable {
    /// The response is right and the nonce is current.
    case valid
    /// The response is right but the nonce has expired: answer 401/407 with
    /// `challenges(now:stale: true)` so the client retries without asking the user.
    case stale
    /// The credentials are refused; `reason` is for logs, not for the peer.
    case invalid(reason: String)
}

/// Issues Digest challenges for one realm and verifies the answers.
public struct DigestServer: Sendable {
    /// The realm challenged for and required in credentials.
    public let realm: String
    /// How long a nonce stays current after issue.
    public let nonceLifetime: Duration
    /// The algorithms challenged with, in preference order, and accepted.
    public let algorithms: [DigestAlgorithm]
    private let secret: [UInt8]

    private static let timeLength = 8
    private static let saltLength = 8
    private static let macLength = 16
    private static let bindingLength = 8

    /// - Parameters:
    ///   - secret: the HMAC key for nonces; random by default. Servers sharing a secret and a
    ///     clock accept each other's nonces.
    ///   - nonceLifetime: how long a nonce is current; after that a correct response yields `.stale`.
    ///   - algorithms: those offered, most preferred first (RFC 8760 §2.4); ``challenges(now:stale:order:)``
    ///     moves MD5 to the end the transport's clients read.
    public init(
        realm: String, secret: [UInt8] = DigestServer.randomSecret(), nonceLifetime: Duration = .seconds(300),
        algorithms: [DigestAlgorithm] = [.sha256, .md5]
    ) {
        precondition(!secret.isEmpty, "a digest nonce secret must not be empty")
        precondition(!algorithms.isEmpty, "a digest server needs at least one algorithm")
        self.realm = realm
        self.secret = secret
        self.nonceLifetime = nonceLifetime
        self.algorithms = algorithms
    }

    /// 32 random bytes from OpenSSL.
    public static func randomSecret() -> [UInt8] { DigestCrypto.randomBytes(32) }

    /// Which of several challenges the clients of a transport answer, and so where MD5 goes.
    public enum ChallengeOrder: Sendable, Hashable {
        /// ``algorithms`` as listed, with MD5 (and MD5-sess) moved last. For SIP over WebSocket:
        /// JsSIP and SIP.js keep only the last `WWW-Authenticate` of a response (their parsers
        /// store a challenge with `setHeader`, replacing the one before) and know only MD5, while
        /// RFC 8760 clients take the topmost one they support.
        case md5Last
        /// MD5 (and MD5-sess) first, then the rest as listed. For UDP, TCP and TLS, where sipp and
        /// older stacks read only the first challenge and know only MD5.
        case md5First
    }

    /// The challenges to put in a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate): one per
    /// algorithm of ``algorithms``, sharing one fresh nonce bound to `binding`, each with
    /// qop="auth", in `order`.
    public func challenges(now: NIODeadline, stale: Bool = false, order: ChallengeOrder = .md5Last, binding: String = "") -> [DigestChallenge] {
        let nonce = makeNonce(now: now, binding: binding)
        let md5 = algorithms.filter { $0.strength == 1 }
        let others = algorithms.filter { $0.strength != 1 }
        return (order == .md5First ? md5 + others : others + md5).map {
            DigestChallenge(realm: realm, nonce: nonce, algorithm: $0, qopOptions: ["auth"], stale: stale)
        }
    }

    /// A nonce issued at `now` to the client `binding` names (its address, say).
    public func makeNonce(now: NIODeadline, binding: String = "") -> String {
        let prefix = Self.bigEndianBytes(now.uptimeNanoseconds) + DigestCrypto.randomBytes(Self.saltLength)
        return DigestCrypto.hex(prefix + mac(prefix: prefix) + bindingMAC(prefix: prefix, binding: binding))
    }

    /// Checks credentials against the user's password.
    ///
    /// The caller looks the password up by `credentials.username`, and should check that
    /// `credentials.uri` names the request's Request-URI (RFC 3261 §22.4 leaves the comparison to
    /// the server).
    /// A nonce issued to another `binding` than the one given is `.stale` once the response
    /// checks out (the client proved the password, from somewhere else: it gets a fresh nonce).
    public func verify(_ credentials: DigestCredentials, method: String, password: String, now: NIODeadline, binding: String = "")
        -> DigestVerification
    {
        verify(credentials, method: method, now: now, binding: binding) {
            Digest.ha1(
                algorithm: credentials.algorithm, username: credentials.username, realm: credentials.realm,
                password: password)
        }
    }

    /// Checks credentials against a stored H(A1), `H(username ":" realm ":" password)` computed
    /// with the hash of `credentials.algorithm` (MD5 for MD5 and MD5-sess, SHA-256 for the others).
    public func verify(_ credentials: DigestCredentials, method: String, ha1: String, now: NIODeadline, binding: String = "")
        -> DigestVerification
    {
        guard ha1.utf8.count == credentials.algorithm.hexLength else {
            return .invalid(reason: "the stored H(A1) is not a \(credentials.algorithm) digest")
        }
        return verify(credentials, method: method, now: now, binding: binding) { ha1.lowercased() }
    }

    private func verify(
        _ credentials: DigestCredentials, method: String, now: NIODeadline, binding: String, ha1: () -> String
    ) -> DigestVerification {
        guard credentials.realm == realm else {
            return .invalid(reason: "realm \"\(credentials.realm)\" is not \"\(realm)\"")
        }
        guard algorithms.contains(credentials.algorithm) else {
            return .invalid(reason: "algorithm \(credentials.algorithm) is not offered")
        }
        guard let (issued, bound) = parse(nonce: credentials.nonce, binding: binding) else {
            return .invalid(reason: "the nonce was not issued by this server")
        }
        guard issued <= now else {
            return .invalid(reason: "the nonce was issued in the future")
        }
        let expected: String
        do {
            expected = try Digest.response(
                algorithm: credentials.algorithm, ha1: ha1(), nonce: credentials.nonce, nc: credentials.nc,
                cnonce: credentials.cnonce, qop: credentials.qop, method: method, uri: credentials.uri)
        } catch {
            return .invalid(reason: error.description)
        }
        guard DigestCrypto.constantTimeEqual(Array(expected.utf8), Array(credentials.response.lowercased().utf8)) else {
            return .invalid(reason: "the response does not match")
        }
        // Staleness only after the response checks out (RFC 7616 §3.3 `stale`), so a wrong
        // password never earns a silent retry.
        if now - issued > TimeAmount(nonceLifetime) || !bound { return .stale }
        return .valid
    }

    /// The issue time of a nonce this server made, or nil if it is malformed or forged (for
    /// `NonceCountTracker`).
    public func issueTime(ofNonce nonce: String) -> NIODeadline? { parse(nonce: nonce, binding: "")?.issued }

    /// A nonce's issue time and whether it was issued to `binding`; nil if it is malformed or forged.
    private func parse(nonce: String, binding: String) -> (issued: NIODeadline, bound: Bool)? {
        let utf8 = Substring(nonce).utf8
        let prefixLength = Self.timeLength + Self.saltLength
        guard utf8.count == 2 * (prefixLength + Self.macLength + Self.bindingLength),
            let bytes = DigestCrypto.bytes(fromHex: utf8)
        else { return nil }
        let prefix = Array(bytes[..<prefixLength])
        guard DigestCrypto.constantTimeEqual(mac(prefix: prefix), bytes[prefixLength..<(prefixLength + Self.macLength)]) else { return nil }
        let bound = DigestCrypto.constantTimeEqual(bindingMAC(prefix: prefix, binding: binding), bytes[(prefixLength + Self.macLength)...])
        let nanoseconds = prefix[..<Self.timeLength].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return (.uptimeNanoseconds(nanoseconds), bound)
    }

    private func mac(prefix: [UInt8]) -> [UInt8] {
        Array(DigestCrypto.hmacSHA256(key: secret, message: prefix + Array(realm.utf8)).prefix(Self.macLength))
    }

    /// The MAC that binds a nonce to its client: a zero byte keeps it apart from the realm's.
    private func bindingMAC(prefix: [UInt8], binding: String) -> [UInt8] {
        Array(DigestCrypto.hmacSHA256(key: secret, message: prefix + [0] + Array(binding.utf8)).prefix(Self.bindingLength))
    }

    private static func bigEndianBytes(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }
}
