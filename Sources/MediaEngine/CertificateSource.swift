// Where a DTLS profile's certificate comes from for each new call: files named in the profile,
// loaded once (and again after a reload), or a self-signed ECDSA P-256 certificate generated at
// start and rotated on a schedule, so a long-running node does not keep one key forever. Calls in
// progress keep the certificate they started with.

import DTLS
import NIOCore

public final class CertificateSource: @unchecked Sendable {  // confined to its owner's loop
    public enum Origin: Sendable, Equatable {
        case generated(rotateEvery: TimeAmount)
        case files(certificate: String, privateKey: String)
    }

    public let origin: Origin
    private var current: DTLSCertificate
    private var issuedAt: NIODeadline

    public init(_ origin: Origin, now: NIODeadline) throws {
        self.origin = origin
        switch origin {
        case .generated:
            current = try DTLSCertificate.selfSigned()
        case .files(let certificate, let privateKey):
            current = try DTLSCertificate(certificatePath: certificate, privateKeyPath: privateKey)
        }
        issuedAt = now
    }

    /// The certificate for a call starting now; a generated one is replaced when it is older
    /// than its rotation interval.
    public func certificate(now: NIODeadline) throws -> DTLSCertificate {
        if case .generated(let interval) = origin, now - issuedAt >= interval {
            current = try DTLSCertificate.selfSigned()
            issuedAt = now
        }
        return current
    }
}
