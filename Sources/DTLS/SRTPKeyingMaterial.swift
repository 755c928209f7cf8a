// DTLS-SRTP keying material (RFC 5764 §4.2): the exporter "EXTRACTOR-dtls_srtp" yields
// 2 * (key + salt) bytes laid out as client_write_SRTP_master_key, server_write_SRTP_master_key,
// client_write_SRTP_master_salt, server_write_SRTP_master_salt. Key and salt lengths per profile
// come from RFC 5764 §4.1.2 (AES_CM: 16 + 14) and RFC 7714 §12 (AEAD_AES_128_GCM: 16 + 12,
// AEAD_AES_256_GCM: 32 + 12).

/// Which end of the DTLS handshake an endpoint is (RFC 5763 §5: a=setup decides).
public enum DTLSRole: String, Sendable, Hashable {
    case client
    case server

    public var peer: DTLSRole { self == .client ? .server : .client }
}

extension SRTPProtectionProfile {
    /// SRTP master key length in bytes.
    public var masterKeyLength: Int {
        switch self {
        case .aes128CMSHA1_80, .aes128CMSHA1_32, .aeadAES128GCM: return 16
        case .aeadAES256GCM: return 32
        }
    }

    /// SRTP master salt length in bytes.
    public var masterSaltLength: Int {
        switch self {
        case .aes128CMSHA1_80, .aes128CMSHA1_32: return 14
        case .aeadAES128GCM, .aeadAES256GCM: return 12
        }
    }

    /// The profile with the given use_srtp identifier, if it is one of ours.
    public init?(identifier: UInt16) {
        guard let profile = Self.allCases.first(where: { $0.identifier == identifier }) else { return nil }
        self = profile
    }
}

/// The SRTP master keys and salts both directions use after a DTLS-SRTP handshake.
public struct SRTPKeyingMaterial: Sendable, Hashable {
    public var clientWriteKey: [UInt8]
    public var serverWriteKey: [UInt8]
    public var clientWriteSalt: [UInt8]
    public var serverWriteSalt: [UInt8]

    public init(clientWriteKey: [UInt8], serverWriteKey: [UInt8], clientWriteSalt: [UInt8], serverWriteSalt: [UInt8]) {
        self.clientWriteKey = clientWriteKey
        self.serverWriteKey = serverWriteKey
        self.clientWriteSalt = clientWriteSalt
        self.serverWriteSalt = serverWriteSalt
    }

    /// Splits exporter output as RFC 5764 §4.2 lays it out; nil when the length is wrong.
    public init?(exported bytes: [UInt8], profile: SRTPProtectionProfile) {
        let key = profile.masterKeyLength
        let salt = profile.masterSaltLength
        guard bytes.count == 2 * (key + salt) else { return nil }
        clientWriteKey = Array(bytes[0..<key])
        serverWriteKey = Array(bytes[key..<2 * key])
        clientWriteSalt = Array(bytes[2 * key..<2 * key + salt])
        serverWriteSalt = Array(bytes[2 * key + salt..<2 * (key + salt)])
    }

    /// The number of exporter bytes `profile` needs.
    public static func exportLength(for profile: SRTPProtectionProfile) -> Int {
        2 * (profile.masterKeyLength + profile.masterSaltLength)
    }

    /// Master key followed by master salt (libsrtp's layout) for what `writer` sends.
    public func keyAndSalt(writtenBy writer: DTLSRole) -> [UInt8] {
        writer == .client ? clientWriteKey + clientWriteSalt : serverWriteKey + serverWriteSalt
    }
}
