// Self-signed certificates and SDP fingerprints (RFC 8122 §5: upper-case hex octets joined by
// colons), PEM export and loading.

import DTLS
import Glibc
import XCTest

final class CertificateTests: XCTestCase {
    private func assertSDPForm(_ value: String, octets: Int, file: StaticString = #filePath, line: UInt = #line) {
        let groups = value.split(separator: ":", omittingEmptySubsequences: false)
        XCTAssertEqual(groups.count, octets, value, file: file, line: line)
        for group in groups {
            XCTAssertEqual(group.count, 2, value, file: file, line: line)
            XCTAssertTrue(group.utf8.allSatisfy { (48...57).contains($0) || (65...70).contains($0) }, value, file: file, line: line)
        }
    }

    func testFingerprintIsUpperCaseHexOctetsJoinedByColons() throws {
        let certificate = try DTLSCertificate.selfSigned()
        let sha256 = certificate.fingerprint(.sha256)
        XCTAssertEqual(sha256.hash, .sha256)
        assertSDPForm(sha256.value, octets: 32)
        XCTAssertEqual(sha256.value.count, 95)
        assertSDPForm(certificate.fingerprint(.sha384).value, octets: 48)
        assertSDPForm(certificate.fingerprint(.sha512).value, octets: 64)
        XCTAssertEqual(sha256.description, "sha-256 \(sha256.value)")
    }

    func testFingerprintIsStableAndDiffersBetweenCertificates() throws {
        let first = try DTLSCertificate.selfSigned()
        let second = try DTLSCertificate.selfSigned()
        XCTAssertEqual(first.fingerprint(.sha256), first.fingerprint(.sha256))
        XCTAssertNotEqual(first.fingerprint(.sha256), second.fingerprint(.sha256))
    }

    func testFingerprintValueFromSDPIsComparedCaseInsensitively() throws {
        let certificate = try DTLSCertificate.selfSigned()
        let fromSDP = CertificateFingerprint(hash: .sha256, value: certificate.fingerprint(.sha256).value.lowercased())
        XCTAssertEqual(fromSDP, certificate.fingerprint(.sha256))
    }

    func testPEMRoundTripKeepsTheFingerprint() throws {
        let certificate = try DTLSCertificate.selfSigned(commonName: "tandem")
        XCTAssertTrue(certificate.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        XCTAssertTrue(certificate.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let loaded = try DTLSCertificate(certificatePEM: certificate.certificatePEM, privateKeyPEM: certificate.privateKeyPEM)
        XCTAssertEqual(loaded.fingerprint(.sha256), certificate.fingerprint(.sha256))
    }

    func testPEMFilesLoad() throws {
        let certificate = try DTLSCertificate.selfSigned()
        let directory = NSTemporaryDirectory() + "tandem-dtls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificatePath = directory + "/cert.pem"
        let keyPath = directory + "/key.pem"
        try certificate.certificatePEM.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        try certificate.privateKeyPEM.write(toFile: keyPath, atomically: true, encoding: .utf8)
        let loaded = try DTLSCertificate(certificatePath: certificatePath, privateKeyPath: keyPath)
        XCTAssertEqual(loaded.fingerprint(.sha256), certificate.fingerprint(.sha256))
        XCTAssertThrowsError(try DTLSCertificate(certificatePath: directory + "/missing.pem", privateKeyPath: keyPath))
    }

    func testKeyOfAnotherCertificateIsRejected() throws {
        let first = try DTLSCertificate.selfSigned()
        let second = try DTLSCertificate.selfSigned()
        XCTAssertThrowsError(try DTLSCertificate(certificatePEM: first.certificatePEM, privateKeyPEM: second.privateKeyPEM)) {
            XCTAssertTrue(String(describing: $0).contains("does not match"), "\($0)")
        }
    }

    func testTextThatIsNotPEMIsRejected() {
        XCTAssertThrowsError(try DTLSCertificate(certificatePEM: "hello", privateKeyPEM: "world"))
    }

    func testGeneratedCertificateIsAcceptedByTheCredentialsCheck() throws {
        let certificate = try DTLSCertificate.selfSigned()
        let directory = NSTemporaryDirectory() + "tandem-dtls-check-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try certificate.certificatePEM.write(toFile: directory + "/c.pem", atomically: true, encoding: .utf8)
        try certificate.privateKeyPEM.write(toFile: directory + "/k.pem", atomically: true, encoding: .utf8)
        let check = PEMCredentials.check(certificatePath: directory + "/c.pem", privateKeyPath: directory + "/k.pem")
        XCTAssertNil(check.error)
        XCTAssertEqual(check.warnings, [])
    }
}
