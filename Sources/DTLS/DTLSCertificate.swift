// The certificate a DTLS endpoint presents and its SDP fingerprint (RFC 8122 §5, RFC 8827 §6.5):
// WebRTC peers authenticate DTLS by comparing the peer certificate's hash with the
// a=fingerprint attribute, so a self-signed ECDSA P-256 certificate (RFC 8827 §6.5 and
// RFC 8122) generated at start is enough. PEM files may be loaded instead.

import COpenSSL
import CTandemShims

/// A certificate and its private key, owned together. Immutable after creation, so one instance
/// is shared by every DTLS endpoint (OpenSSL reference-counts both objects and reading them from
/// several threads is safe).
public final class DTLSCertificate: @unchecked Sendable {
    /// X509*, freed in deinit.
    let certificate: OpaquePointer
    /// EVP_PKEY*, freed in deinit.
    let privateKey: OpaquePointer

    private init(certificate: OpaquePointer, privateKey: OpaquePointer) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(privateKey)
    }

    /// Generates an ECDSA P-256 key and a self-signed certificate for it: random 63-bit serial,
    /// subject and issuer CN=`commonName`, valid from a day ago for `validityDays` days.
    public static func selfSigned(commonName: String = "tandem", validityDays: Int = 30) throws -> DTLSCertificate {
        ERR_clear_error()
        guard let keyContext = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw DTLSError.fromQueue("cannot create an EC key context")
        }
        defer { EVP_PKEY_CTX_free(keyContext) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(keyContext) == 1,
            EVP_PKEY_CTX_set_group_name(keyContext, "P-256") == 1,
            EVP_PKEY_generate(keyContext, &key) == 1, let key
        else {
            throw DTLSError.fromQueue("cannot generate a P-256 key")
        }
        guard let x509 = X509_new() else {
            EVP_PKEY_free(key)
            throw DTLSError.fromQueue("cannot allocate a certificate")
        }
        // From here on the owner frees both on every path.
        let owner = DTLSCertificate(certificate: x509, privateKey: key)

        var serialBytes = [UInt8](repeating: 0, count: 8)
        guard RAND_bytes(&serialBytes, Int32(serialBytes.count)) == 1 else {
            throw DTLSError.fromQueue("cannot draw a random serial number")
        }
        // Positive and non-zero (RFC 5280 §4.1.2.2).
        let serial = serialBytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } & 0x7FFF_FFFF_FFFF_FFFF | 1
        guard let name = X509_NAME_new() else { throw DTLSError.fromQueue("cannot allocate a name") }
        defer { X509_NAME_free(name) }
        let days = Int(validityDays)
        guard X509_set_version(x509, 2) == 1,  // v3
            ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serial) == 1,
            X509_gmtime_adj(X509_getm_notBefore(x509), -86_400) != nil,
            X509_gmtime_adj(X509_getm_notAfter(x509), days * 86_400) != nil,
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1,
            X509_set_subject_name(x509, name) == 1,
            X509_set_issuer_name(x509, name) == 1,
            X509_set_pubkey(x509, key) == 1,
            X509_sign(x509, key, EVP_sha256()) > 0
        else {
            throw DTLSError.fromQueue("cannot build the self-signed certificate")
        }
        return owner
    }

    /// Loads a PEM certificate and an unencrypted PEM private key from memory.
    public convenience init(certificatePEM: String, privateKeyPEM: String) throws {
        ERR_clear_error()
        let certificate = try Self.readPEM(certificatePEM, what: "certificate") { PEM_read_bio_X509($0, nil, nil, nil) }
        let key: OpaquePointer
        do {
            key = try Self.readPEM(privateKeyPEM, what: "private key") { PEM_read_bio_PrivateKey($0, nil, nil, nil) }
        } catch {
            X509_free(certificate)
            throw error
        }
        self.init(certificate: certificate, privateKey: key)
        try checkKeyMatches()
    }

    /// Loads a PEM certificate file and an unencrypted PEM private key file.
    public convenience init(certificatePath: String, privateKeyPath: String) throws {
        ERR_clear_error()
        guard let certificateBIO = BIO_new_file(certificatePath, "r") else {
            throw DTLSError.fromQueue("cannot open certificate file \(certificatePath)")
        }
        defer { BIO_free(certificateBIO) }
        guard let certificate = PEM_read_bio_X509(certificateBIO, nil, nil, nil) else {
            throw DTLSError.fromQueue("\(certificatePath) holds no PEM certificate")
        }
        guard let keyBIO = BIO_new_file(privateKeyPath, "r") else {
            X509_free(certificate)
            throw DTLSError.fromQueue("cannot open private key file \(privateKeyPath)")
        }
        defer { BIO_free(keyBIO) }
        guard let key = PEM_read_bio_PrivateKey(keyBIO, nil, nil, nil) else {
            X509_free(certificate)
            throw DTLSError.fromQueue("\(privateKeyPath) holds no unencrypted PEM private key")
        }
        self.init(certificate: certificate, privateKey: key)
        try checkKeyMatches()
    }

    private func checkKeyMatches() throws {
        guard X509_check_private_key(certificate, privateKey) == 1 else {
            throw DTLSError.fromQueue("the private key does not match the certificate")
        }
    }

    private static func readPEM(
        _ text: String, what: String, _ read: (OpaquePointer) -> OpaquePointer?
    ) throws -> OpaquePointer {
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                throw DTLSError.fromQueue("cannot allocate a memory BIO")
            }
            defer { BIO_free(bio) }
            guard let object = read(bio) else { throw DTLSError.fromQueue("no PEM \(what) found") }
            return object
        }
    }

    /// The certificate in PEM form.
    public var certificatePEM: String { Self.writePEM { PEM_write_bio_X509($0, certificate) } }

    /// The private key in unencrypted PKCS#8 PEM form.
    public var privateKeyPEM: String {
        Self.writePEM { PEM_write_bio_PrivateKey($0, privateKey, nil, nil, 0, nil, nil) }
    }

    private static func writePEM(_ write: (OpaquePointer) -> Int32) -> String {
        ERR_clear_error()
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else {
            ERR_clear_error()
            return ""
        }
        var data: UnsafeMutablePointer<CChar>?
        let count = tandem_bio_get_mem_data(bio, &data)
        guard let data, count > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: count), as: UTF8.self)
    }

    /// The fingerprint of this certificate in SDP form (RFC 8122 §5).
    public func fingerprint(_ hash: FingerprintHash) -> CertificateFingerprint {
        CertificateFingerprint(hash: hash, x509: certificate)
    }
}

/// A certificate fingerprint as SDP carries it: `a=fingerprint:sha-256 AB:CD:...`.
public struct CertificateFingerprint: Sendable, Hashable, CustomStringConvertible {
    public var hash: FingerprintHash
    /// Upper-case hex octets separated by colons.
    public var value: String

    /// Takes the value as written in SDP; hex case is normalized to upper case.
    public init(hash: FingerprintHash, value: String) {
        self.hash = hash
        self.value = value.uppercased()
    }

    /// Digest of the DER encoding of `x509` (an X509*).
    init(hash: FingerprintHash, x509: OpaquePointer) {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        ERR_clear_error()
        if X509_digest(x509, hash.evpMessageDigest, &digest, &length) != 1 {
            ERR_clear_error()
            length = 0
        }
        self.init(hash: hash, value: Self.hexWithColons(digest.prefix(Int(length))))
    }

    static func hexWithColons<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789ABCDEF".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 3)
        for byte in bytes {
            if !text.isEmpty { text.append(UInt8(ascii: ":")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `sha-256 AB:CD:...`, the a=fingerprint attribute value.
    public var description: String { "\(hash.rawValue) \(value)" }
}

extension FingerprintHash {
    var evpMessageDigest: OpaquePointer? {
        switch self {
        case .sha256: return EVP_sha256()
        case .sha384: return EVP_sha384()
        case .sha512: return EVP_sha512()
        }
    }
}
