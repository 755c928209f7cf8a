// Tandem's AEAD SRTP (SRTPAEADCipher, on OpenSSL's AES-GCM) against libsrtp's, packet for
// packet, both ways, for both GCM profiles: the same keys must give the same bytes. The
// sequences cross a rollover (65535 -> 0), arrive out of order within the replay window, and
// carry CSRCs and a header extension (authenticated, not encrypted).

import CSRTP
import DTLS
import SRTP
import XCTest

final class SRTPAEADInteropTests: XCTestCase {
    private let profiles: [SRTPProtectionProfile] = [.aeadAES128GCM, .aeadAES256GCM]

    private func material(_ profile: SRTPProtectionProfile) -> SRTPKeyingMaterial {
        let key = (0..<profile.masterKeyLength).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let salt = (0..<profile.masterSaltLength).map { UInt8(truncatingIfNeeded: $0 &* 53 &+ 5) }
        return SRTPKeyingMaterial(clientWriteKey: key, serverWriteKey: key.reversed(), clientWriteSalt: salt, serverWriteSalt: salt.reversed())
    }

    /// A libsrtp session with the client's write key, as SRTPSession would make one.
    private func libsrtp(_ profile: SRTPProtectionProfile, outbound: Bool) throws -> OpaquePointer {
        let keys = material(profile)
        var policy = srtp_policy_t()
        if profile == .aeadAES128GCM {
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        } else {
            srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtcp)
        }
        policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound
        var keyAndSalt = keys.clientWriteKey + keys.clientWriteSalt
        var session: OpaquePointer?
        let status = keyAndSalt.withUnsafeMutableBufferPointer { key in
            policy.key = key.baseAddress
            return srtp_create(&session, &policy)
        }
        XCTAssertEqual(status, srtp_err_status_ok)
        return try XCTUnwrap(session)
    }

    private func packet(sequence: UInt16, extended: Bool) -> [UInt8] {
        var bytes: [UInt8] = extended ? [0x92, 0x00] : [0x80, 0x08]  // V=2, (X, CC=2) or not; PT 0 or 8
        bytes += [UInt8(sequence >> 8), UInt8(truncatingIfNeeded: sequence)]
        bytes += [0x00, 0x01, 0x02, 0x03, 0xCA, 0xFE, 0xBA, 0xBE]
        if extended {
            bytes += [0, 0, 0, 1, 0, 0, 0, 2]  // two CSRCs
            bytes += [0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0x00, 0x00]  // one-byte extension, one word
        }
        bytes += (0..<160).map { UInt8(truncatingIfNeeded: $0 &+ Int(sequence)) }
        return bytes
    }

    /// 65530 ... 65535, 0 ... 5 with two pairs swapped, and every fourth packet extended.
    private var order: [UInt16] {
        var sequences = (0..<12).map { UInt16(truncatingIfNeeded: 65530 + $0) }
        sequences.swapAt(3, 4)
        sequences.swapAt(7, 8)
        return sequences
    }

    func testLibsrtpPacketsOpenWithTandemsCipher() throws {
        for profile in profiles {
            let inbound = try SRTPSession(profile: profile, keyingMaterial: material(profile), role: .server, direction: .inbound)
            let sender = try libsrtp(profile, outbound: true)
            defer { srtp_dealloc(sender) }
            // A sender's sequence goes up: protect in order, deliver in `order`.
            var protected: [UInt16: [UInt8]] = [:]
            for sequence in order.sorted(by: { ($0 &- 65530) < ($1 &- 65530) }) {
                let plain = packet(sequence: sequence, extended: sequence % 4 == 0)
                var bytes = plain + [UInt8](repeating: 0, count: SRTPSession.rtpTrailerCapacity)
                var length = Int32(plain.count)
                XCTAssertEqual(srtp_protect(sender, &bytes, &length), srtp_err_status_ok)
                protected[sequence] = Array(bytes.prefix(Int(length)))
            }
            for sequence in order {
                var bytes = try XCTUnwrap(protected[sequence])
                try inbound.unprotect(rtp: &bytes)
                XCTAssertEqual(bytes, packet(sequence: sequence, extended: sequence % 4 == 0), "\(profile) \(sequence)")
            }
            // Each delivered once: a second copy is a replay.
            var again = try XCTUnwrap(protected[order[5]])
            XCTAssertThrowsError(try inbound.unprotect(rtp: &again)) { XCTAssertEqual(($0 as? SRTPError)?.kind, .replayed) }
            // A flipped bit in the header (authenticated, not encrypted) fails the tag.
            var forged = try XCTUnwrap(protected[order[11]])
            forged[1] ^= 0x01
            let fresh = try SRTPSession(profile: profile, keyingMaterial: material(profile), role: .server, direction: .inbound)
            XCTAssertThrowsError(try fresh.unprotect(rtp: &forged)) { XCTAssertEqual(($0 as? SRTPError)?.kind, .authenticationFailed) }
        }
    }

    func testTandemsPacketsOpenWithLibsrtp() throws {
        for profile in profiles {
            let outbound = try SRTPSession(profile: profile, keyingMaterial: material(profile), role: .client, direction: .outbound)
            let receiver = try libsrtp(profile, outbound: false)
            defer { srtp_dealloc(receiver) }
            for sequence in (0..<12).map({ UInt16(truncatingIfNeeded: 65530 + $0) }) {
                let plain = packet(sequence: sequence, extended: sequence % 4 == 0)
                var bytes = plain
                try outbound.protect(rtp: &bytes)
                XCTAssertEqual(bytes.count, plain.count + 16)
                var length = Int32(bytes.count)
                XCTAssertEqual(srtp_unprotect(receiver, &bytes, &length), srtp_err_status_ok, "\(profile) \(sequence)")
                XCTAssertEqual(Array(bytes.prefix(Int(length))), plain, "\(profile) \(sequence)")
            }
        }
    }
}
