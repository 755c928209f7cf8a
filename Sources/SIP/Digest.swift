// The digest arithmetic: H(A1), H(A2) and the request digest (RFC 3261 §22.4, RFC 2617 §3.2.2,
// RFC 7616 §3.4.1–§3.4.3, RFC 8760 §2). qop absent (RFC 2069 compatibility) and qop=auth are
// supported; auth-int, which needs the message body, is refused.

/// Why a digest response cannot be computed.
public struct DigestError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The qop is neither absent nor `auth` (for example `auth-int`).
        case unsupportedQOP
        /// qop=auth or a `-sess` algorithm needs a client nonce (and qop=auth a nonce count).
        case missingClientNonce
    }

    public var kind: Kind
    public var description: String
}

/// Digest computations, all returning lowercase hex.
public enum Digest {
    /// H(A1) for a plain algorithm: `H(username ":" realm ":" password)` (RFC 7616 §3.4.2). This is
    /// also the per-user secret a server may store instead of the password, one per base hash.
    /// For a `-sess` algorithm the base hash is used; ``sessionHA1(algorithm:ha1:nonce:cnonce:)``
    /// then folds in the nonces.
    public static func ha1(algorithm: DigestAlgorithm, username: String, realm: String, password: String) -> String {
        algorithm.hash("\(username):\(realm):\(password)")
    }

    /// The H(A1) a response uses: `H(ha1 ":" nonce ":" cnonce)` for a `-sess` algorithm, `ha1`
    /// unchanged otherwise (RFC 7616 §3.4.2).
    public static func sessionHA1(algorithm: DigestAlgorithm, ha1: String, nonce: String, cnonce: String) -> String {
        algorithm.isSession ? algorithm.hash("\(ha1):\(nonce):\(cnonce)") : ha1
    }

    /// H(A2) for qop absent or `auth`: `H(method ":" uri)` (RFC 7616 §3.4.3).
    public static func ha2(algorithm: DigestAlgorithm, method: String, uri: String) -> String {
        algorithm.hash("\(method):\(uri)")
    }

    /// The eight lowercase hex digits of a nonce count (RFC 7616 §3.4).
    public static func nonceCountText(_ nc: UInt32) -> String {
        let digits = String(nc, radix: 16)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// The request digest (RFC 7616 §3.4.1):
    /// `H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)` with qop=auth, or
    /// `H(HA1 ":" nonce ":" HA2)` without qop (RFC 2069 compatibility, RFC 2617 §3.2.2.1).
    ///
    /// - Parameters:
    ///   - ha1: the plain H(A1) from ``ha1(algorithm:username:realm:password:)``; the `-sess`
    ///     step is applied here.
    ///   - qop: nil or `auth` (compared case-insensitively and hashed as given).
    ///   - nc, cnonce: required with qop=auth; `cnonce` also with a `-sess` algorithm.
    public static func response(
        algorithm: DigestAlgorithm, ha1: String, nonce: String, nc: UInt32?, cnonce: String?, qop: String?,
        method: String, uri: String
    ) throws(DigestError) -> String {
        var a1 = ha1
        if algorithm.isSession {
            guard let cnonce else {
                throw DigestError(kind: .missingClientNonce, description: "\(algorithm) needs a client nonce")
            }
            a1 = sessionHA1(algorithm: algorithm, ha1: ha1, nonce: nonce, cnonce: cnonce)
        }
        let a2 = ha2(algorithm: algorithm, method: method, uri: uri)
        guard let qop else {
            return algorithm.hash("\(a1):\(nonce):\(a2)")
        }
        guard qop.lowercased() == "auth" else {
            throw DigestError(kind: .unsupportedQOP, description: "qop \(qop) is not supported")
        }
        guard let cnonce, let nc else {
            throw DigestError(kind: .missingClientNonce, description: "qop=auth needs cnonce and nc")
        }
        return algorithm.hash("\(a1):\(nonce):\(nonceCountText(nc)):\(cnonce):\(qop):\(a2)")
    }

    /// The request digest from a password; see
    /// ``response(algorithm:ha1:nonce:nc:cnonce:qop:method:uri:)``.
    public static func response(
        algorithm: DigestAlgorithm, username: String, realm: String, password: String, nonce: String,
        nc: UInt32?, cnonce: String?, qop: String?, method: String, uri: String
    ) throws(DigestError) -> String {
        try response(
            algorithm: algorithm, ha1: ha1(algorithm: algorithm, username: username, realm: realm, password: password),
            nonce: nonce, nc: nc, cnonce: cnonce, qop: qop, method: method, uri: uri)
    }
}
