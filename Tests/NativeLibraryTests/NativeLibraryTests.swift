import DTLS
import SRTP
import XCTest

@testable import AudioCodecs

/// The C libraries are found by pkg-config, link, and are the versions the code expects.
final class NativeLibraryTests: XCTestCase {
    func testLinkedLibrariesReportTheirVersions() {
        XCTAssertTrue(OpenSSLLibrary.version.hasPrefix("OpenSSL 3."), OpenSSLLibrary.version)
        XCTAssertGreaterThanOrEqual(OpenSSLLibrary.versionNumber, 0x3000_0000)
        XCTAssertTrue(SRTPLibrary.version.hasPrefix("libsrtp2 2."), SRTPLibrary.version)
        XCTAssertTrue(OpusLibrary.version.hasPrefix("libopus 1."), OpusLibrary.version)
        XCTAssertEqual(SpanDSPLibrary.release.count, 15, SpanDSPLibrary.release)
    }
}

final class G711Tests: XCTestCase {
    func testMuLawKnownValues() {
        XCTAssertEqual(MuLaw.encode(0), 0xFF)
        XCTAssertEqual(MuLaw.decode(0xFF), 0)
        XCTAssertEqual(MuLaw.decode(0x7F), 0)
        XCTAssertEqual(MuLaw.decode(0x80), 32124)
        XCTAssertEqual(MuLaw.decode(0x00), -32124)
        XCTAssertEqual(MuLaw.encode(32767), 0x80, "clipped to the largest code")
        XCTAssertEqual(MuLaw.encode(-32768), 0x00)
        XCTAssertEqual(MuLaw.encode(1000), 0xCE)
        XCTAssertEqual(MuLaw.encode(-1000), 0x4E)
    }

    func testALawKnownValues() {
        XCTAssertEqual(ALaw.encode(0), 0xD5)
        XCTAssertEqual(ALaw.decode(0xD5), 8)
        XCTAssertEqual(ALaw.decode(0x55), -8)
        XCTAssertEqual(ALaw.decode(0xAA), 32256)
        XCTAssertEqual(ALaw.decode(0x2A), -32256)
        XCTAssertEqual(ALaw.encode(32767), 0xAA)
        XCTAssertEqual(ALaw.encode(1000), 0xFA)
    }

    func testEveryCodeSurvivesDecodeThenEncode() {
        for code in 0...255 where code != 0x7F {  // 0x7F is µ-law's negative zero, re-encoded as 0xFF
            XCTAssertEqual(MuLaw.encode(MuLaw.decode(UInt8(code))), UInt8(code), "µ-law \(code)")
        }
        for code in 0...255 {
            XCTAssertEqual(ALaw.encode(ALaw.decode(UInt8(code))), UInt8(code), "A-law \(code)")
        }
    }

    func testQuantizationErrorStaysWithinTheSegmentStep() {
        for sample in stride(from: -32000, through: 32000, by: 7) {
            let value = Int16(sample)
            let mu = Int(MuLaw.decode(MuLaw.encode(value)))
            let a = Int(ALaw.decode(ALaw.encode(value)))
            // The largest segment's step is 1024 (µ-law) and 1024 (A-law): error at most half.
            XCTAssertLessThanOrEqual(abs(mu - sample), max(4, abs(sample) / 16 + 8), "µ-law \(sample) -> \(mu)")
            XCTAssertLessThanOrEqual(abs(a - sample), max(8, abs(sample) / 16 + 16), "A-law \(sample) -> \(a)")
        }
    }

    func testBufferFunctionsMatchSampleFunctions() {
        let input: [Int16] = (0..<160).map { Int16(truncatingIfNeeded: $0 * 409 - 32000) }
        var encoded = [UInt8](repeating: 0, count: 160)
        var decoded = [Int16](repeating: 0, count: 160)
        input.withUnsafeBufferPointer { source in
            encoded.withUnsafeMutableBufferPointer { MuLaw.encode(source, into: $0) }
        }
        encoded.withUnsafeBufferPointer { source in
            decoded.withUnsafeMutableBufferPointer { MuLaw.decode(source, into: $0) }
        }
        XCTAssertEqual(encoded, input.map(MuLaw.encode))
        XCTAssertEqual(decoded, encoded.map(MuLaw.decode))
        input.withUnsafeBufferPointer { source in
            encoded.withUnsafeMutableBufferPointer { ALaw.encode(source, into: $0) }
        }
        encoded.withUnsafeBufferPointer { source in
            decoded.withUnsafeMutableBufferPointer { ALaw.decode(source, into: $0) }
        }
        XCTAssertEqual(encoded, input.map(ALaw.encode))
        XCTAssertEqual(decoded, encoded.map(ALaw.decode))
    }
}

extension G711Tests {
    /// The lookup tables agree with the recommendation's segment search for every sample.
    func testTablesMatchTheAlgorithmForEverySample() {
        for raw in 0...0xFFFF {
            let sample = Int16(bitPattern: UInt16(raw))
            XCTAssertEqual(MuLaw.encode(sample), MuLaw.encodeSlow(sample), "µ-law \(sample)")
            XCTAssertEqual(ALaw.encode(sample), ALaw.encodeSlow(sample), "A-law \(sample)")
        }
    }
}
