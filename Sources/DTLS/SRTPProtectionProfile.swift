// DTLS-SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2) and the names OpenSSL uses for
// them in SSL_CTX_set_tlsext_use_srtp. Browsers offer the AEAD-GCM profiles first; Chrome picks
// SRTP_AEAD_AES_256_GCM when it is the DTLS client and SRTP_AES128_CM_SHA1_80 when server, so a
// gateway must support both.

/// A DTLS-SRTP protection profile.
public enum SRTPProtectionProfile: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case aeadAES256GCM = "SRTP_AEAD_AES_256_GCM"
    case aeadAES128GCM = "SRTP_AEAD_AES_128_GCM"
    case aes128CMSHA1_80 = "SRTP_AES128_CM_SHA1_80"
    case aes128CMSHA1_32 = "SRTP_AES128_CM_SHA1_32"

    /// The profile's two-byte identifier in the use_srtp extension.
    public var identifier: UInt16 {
        switch self {
        case .aes128CMSHA1_80: return 0x0001
        case .aes128CMSHA1_32: return 0x0002
        case .aeadAES128GCM: return 0x0007
        case .aeadAES256GCM: return 0x0008
        }
    }

    public var description: String { rawValue }
}

/// The hash functions a DTLS certificate fingerprint may use in SDP (RFC 8122 §5).
public enum FingerprintHash: String, Sendable, CaseIterable, Hashable {
    case sha256 = "sha-256"
    case sha384 = "sha-384"
    case sha512 = "sha-512"
}
