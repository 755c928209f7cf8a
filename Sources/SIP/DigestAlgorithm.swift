// The digest algorithms SIP authentication offers and answers (RFC 3261 §22.4, RFC 2617 §3.2.1,
// RFC 7616 §3.2 and §6.1, RFC 8760 §2), and the OpenSSL primitives behind them: message digests
// as lowercase hex, HMAC-SHA256 for stateless server nonces, random bytes for client and server
// nonces, and a constant-time comparison.

import COpenSSL

/// A digest algorithm named by the `algorithm` parameter of a challenge or credentials.
public enum DigestAlgorithm: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case md5 = "MD5"
    case md5Sess = "MD5-sess"
    /// SHA-256 (RFC 7616 §3.2, RFC 8760 §2.1).
    case sha256 = "SHA-256"
    case sha256Sess = "SHA-256-sess"

    /// The algorithm an `algorithm` token names, compared case-insensitively; nil when unknown
    /// (for example `SHA-512-256` or `AKAv1-MD5`).
    public init?(token: String) {
        let lowered = token.lowercased()
        guard let match = Self.allCases.first(where: { $0.rawValue.lowercased() == lowered }) else { return nil }
        self = match
    }

    /// Whether this is a `-sess` variant, whose H(A1) also covers the nonce and client nonce
    /// (RFC 7616 §3.4.2).
    public var isSession: Bool { self == .md5Sess || self == .sha256Sess }

    /// The ranking a client uses to pick among several challenges: higher is stronger
    /// (RFC 8760 §2.4 prefers SHA-256 over MD5).
    public var strength: Int {
        switch self {
        case .md5, .md5Sess: return 1
        case .sha256, .sha256Sess: return 2
        }
    }

    /// The number of hex digits a digest of this algorithm has: 32 for MD5, 64 for SHA-256.
    public var hexLength: Int { strength == 1 ? 32 : 64 }

    public var description: String { rawValue }

    /// The digest of `bytes`, as lowercase hex (the `H()` of RFC 7616 §3.4).
    public func hash(_ bytes: [UInt8]) -> String {
        let md = strength == 1 ? EVP_md5() : EVP_sha256()
        var output = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { input in
            output.withUnsafeMutableBufferPointer { out in
                EVP_Digest(input.baseAddress, input.count, out.baseAddress, &length, md, nil)
            }
        }
        precondition(ok == 1, "OpenSSL cannot compute \(rawValue)")
        return DigestCrypto.hex(output[..<Int(length)])
    }

    /// The digest of the UTF-8 bytes of `text`, as lowercase hex.
    public func hash(_ text: String) -> String { hash(Array(text.utf8)) }
}

/// The OpenSSL primitives the digest code needs besides hashing.
enum DigestCrypto {
    /// `count` bytes from OpenSSL's CSPRNG.
    static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let ok = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        precondition(ok == 1, "OpenSSL cannot produce random bytes")
        return bytes
    }

    /// HMAC-SHA256 of `message` under `key`.
    static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                output.withUnsafeMutableBufferPointer { out in
                    HMAC(
                        EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        m.count, out.baseAddress, &length)
                }
            }
        }
        precondition(result != nil && length == 32, "OpenSSL cannot compute HMAC-SHA256")
        return output
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lowercase hex of `bytes`.
    static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes hex text encodes (either case); nil if it is not an even run of hex digits.
    static func bytes(fromHex text: Substring.UTF8View) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var high: UInt8?
        for c in text {
            let nibble: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return out
    }

    /// Whether two byte strings are equal, in time that depends only on their lengths.
    static func constantTimeEqual<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
