// Checks a PEM certificate chain and private key pair before the daemon relies on it: both files
// parse, the key matches the certificate, and the certificate has not expired. Used by
// configuration validation so `tandemd --check-config` catches a bad pair, not the first call.

import COpenSSL

/// What a certificate/key check found.
public struct PEMCredentialsCheck: Sendable, Equatable {
    /// Why the pair is unusable, or nil when it is usable.
    public var error: String?
    /// Problems that do not stop the daemon (an expired certificate).
    public var warnings: [String]
}

public enum PEMCredentials {
    /// Checks that `certificatePath` holds a PEM certificate, `privateKeyPath` a PEM private key,
    /// and that they belong together.
    public static func check(certificatePath: String, privateKeyPath: String) -> PEMCredentialsCheck {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let certificateBIO = BIO_new_file(certificatePath, "r") else {
            return PEMCredentialsCheck(error: "cannot open certificate file \(certificatePath)", warnings: [])
        }
        defer { BIO_free(certificateBIO) }
        guard let certificate = PEM_read_bio_X509(certificateBIO, nil, nil, nil) else {
            return PEMCredentialsCheck(error: "\(certificatePath) holds no PEM certificate", warnings: [])
        }
        defer { X509_free(certificate) }
        guard let keyBIO = BIO_new_file(privateKeyPath, "r") else {
            return PEMCredentialsCheck(error: "cannot open private key file \(privateKeyPath)", warnings: [])
        }
        defer { BIO_free(keyBIO) }
        guard let key = PEM_read_bio_PrivateKey(keyBIO, nil, nil, nil) else {
            return PEMCredentialsCheck(error: "\(privateKeyPath) holds no unencrypted PEM private key", warnings: [])
        }
        defer { EVP_PKEY_free(key) }
        guard X509_check_private_key(certificate, key) == 1 else {
            return PEMCredentialsCheck(
                error: "private key \(privateKeyPath) does not match certificate \(certificatePath)", warnings: [])
        }
        var warnings: [String] = []
        if let notAfter = X509_get0_notAfter(certificate), X509_cmp_current_time(notAfter) < 0 {
            warnings.append("certificate \(certificatePath) has expired")
        }
        return PEMCredentialsCheck(error: nil, warnings: warnings)
    }
}
