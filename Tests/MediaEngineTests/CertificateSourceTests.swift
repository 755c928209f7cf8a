import DTLS
import Foundation
import MediaEngine
import NIOCore
import XCTest

final class CertificateSourceTests: XCTestCase {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    func testGeneratedCertificateRotatesOnSchedule() throws {
        let source = try CertificateSource(.generated(rotateEvery: .hours(24)), now: start)
        let first = try source.certificate(now: start).fingerprint(.sha256)
        XCTAssertEqual(try source.certificate(now: start + .hours(23)).fingerprint(.sha256), first, "kept within the interval")
        let rotated = try source.certificate(now: start + .hours(24)).fingerprint(.sha256)
        XCTAssertNotEqual(rotated, first, "a new certificate for calls after the interval")
        XCTAssertEqual(try source.certificate(now: start + .hours(25)).fingerprint(.sha256), rotated)
    }

    func testCertificateFromFiles() throws {
        let directory = NSTemporaryDirectory() + "tandem-cert-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let original = try DTLSCertificate.selfSigned(commonName: "from-files")
        try original.certificatePEM.write(toFile: directory + "/c.pem", atomically: true, encoding: .utf8)
        try original.privateKeyPEM.write(toFile: directory + "/c.key", atomically: true, encoding: .utf8)
        let source = try CertificateSource(.files(certificate: directory + "/c.pem", privateKey: directory + "/c.key"), now: start)
        XCTAssertEqual(try source.certificate(now: start + .hours(1000)).fingerprint(.sha256), original.fingerprint(.sha256))
        XCTAssertThrowsError(try CertificateSource(.files(certificate: directory + "/missing.pem", privateKey: directory + "/c.key"), now: start))
    }
}
