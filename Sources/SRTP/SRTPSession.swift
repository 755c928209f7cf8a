// SRTP and SRTCP (RFC 3711) with keys from DTLS-SRTP (RFC 5764 §4.2), over libsrtp2. Profiles map
// to libsrtp crypto policies per RFC 5764 §4.1.2 (AES_CM_128 with an 80- or 32-bit HMAC-SHA1 tag
// for SRTP; SRTCP always uses the 80-bit tag, RFC 5764 §4.1.2) and RFC 7714 §14.2 (AEAD AES-GCM
// with a 16-octet tag). Replay protection uses libsrtp's default window (RFC 3711 §3.3.2).
//
// A session protects one direction: outbound sessions use the local side's write key, inbound
// sessions the remote side's. Both allow any SSRC.

import CSRTP
import DTLS
import NIOCore

/// Why libsrtp refused a packet. The media path drops the packet and counts the kind.
public struct SRTPError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The authentication tag did not verify (forged, corrupted, or wrong key).
        case authenticationFailed
        /// The packet index was seen before or is older than the replay window.
        case replayed
        /// The packet is too short or otherwise unusable.
        case malformed
        /// Session setup or another libsrtp failure.
        case other
    }

    public var kind: Kind
    /// libsrtp's srtp_err_status_t value.
    public var status: Int32

    init(status: srtp_err_status_t) {
        self.status = Int32(bitPattern: status.rawValue)
        switch status {
        case srtp_err_status_auth_fail: kind = .authenticationFailed
        case srtp_err_status_replay_fail, srtp_err_status_replay_old: kind = .replayed
        case srtp_err_status_bad_param, srtp_err_status_parse_err: kind = .malformed
        default: kind = .other
        }
    }

    init(kind: Kind) {
        self.kind = kind
        self.status = -1
    }

    public var description: String { "SRTP \(kind.rawValue) (libsrtp status \(status))" }
}

/// libsrtp's global initialisation, done once per process.
enum SRTPRuntime {
    static let initialised: srtp_err_status_t = srtp_init()
}

/// One SRTP/SRTCP direction. Not thread-safe: one media path owns it.
public final class SRTPSession {
    /// Which packets the session handles.
    public enum Direction: Sendable, Hashable {
        /// Packets we send: protected with our own write key.
        case outbound
        /// Packets we receive: unprotected with the remote's write key.
        case inbound
    }

    public let profile: SRTPProtectionProfile
    public let direction: Direction

    /// srtp_t, freed in deinit.
    private let session: OpaquePointer
    /// RTP under the AEAD profiles, on OpenSSL (see SRTPAEADCipher); SRTCP stays with libsrtp.
    private let aead: SRTPAEADCipher?

    /// Bytes libsrtp may append to an RTP packet (tag and MKI).
    public static let rtpTrailerCapacity = Int(SRTP_MAX_TAG_LEN) + Int(SRTP_MAX_MKI_LEN)
    /// Bytes libsrtp may append to an RTCP packet (E flag and index, tag, MKI).
    static let rtcpTrailerCapacity = rtpTrailerCapacity + 4

    /// - Parameters:
    ///   - role: our DTLS role; it decides which half of the keying material each direction uses.
    public init(
        profile: SRTPProtectionProfile, keyingMaterial: SRTPKeyingMaterial, role: DTLSRole, direction: Direction
    ) throws {
        guard SRTPRuntime.initialised == srtp_err_status_ok else {
            throw SRTPError(status: SRTPRuntime.initialised)
        }
        let writer = direction == .outbound ? role : role.peer
        var keyAndSalt = keyingMaterial.keyAndSalt(writtenBy: writer)
        guard keyAndSalt.count == profile.masterKeyLength + profile.masterSaltLength else {
            throw SRTPError(kind: .malformed)
        }
        defer { for index in keyAndSalt.indices { keyAndSalt[index] = 0 } }

        var policy = srtp_policy_t()
        switch profile {
        case .aes128CMSHA1_80:
            // srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 is a C macro for the defaults.
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        case .aes128CMSHA1_32:
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)  // SRTCP keeps the 80-bit tag
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        case .aeadAES256GCM:
            srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtcp)
        }
        policy.ssrc.type = direction == .outbound ? ssrc_any_outbound : ssrc_any_inbound
        policy.window_size = 0  // libsrtp's default (128)
        policy.allow_repeat_tx = 0
        var created: OpaquePointer?
        let status = keyAndSalt.withUnsafeMutableBufferPointer { key in
            policy.key = key.baseAddress
            return srtp_create(&created, &policy)
        }
        guard status == srtp_err_status_ok, let created else { throw SRTPError(status: status) }
        switch profile {
        case .aeadAES128GCM, .aeadAES256GCM:
            do {
                aead = try SRTPAEADCipher(masterKey: Array(keyAndSalt.prefix(profile.masterKeyLength)),
                                          masterSalt: Array(keyAndSalt.suffix(profile.masterSaltLength)), encrypting: direction == .outbound)
            } catch {
                srtp_dealloc(created)
                throw error
            }
        case .aes128CMSHA1_80, .aes128CMSHA1_32:
            aead = nil
        }
        self.session = created
        self.profile = profile
        self.direction = direction
    }

    deinit {
        srtp_dealloc(session)
    }

    // MARK: [UInt8]

    /// Encrypts and authenticates an RTP packet in place.
    public func protect(rtp packet: inout [UInt8]) throws {
        try transform(&packet, trailer: Self.rtpTrailerCapacity, rtp: true, srtp_protect)
    }

    /// Verifies and decrypts an SRTP packet in place.
    public func unprotect(rtp packet: inout [UInt8]) throws {
        try transform(&packet, trailer: 0, rtp: true, srtp_unprotect)
    }

    /// Encrypts and authenticates an RTCP compound packet in place.
    public func protectRTCP(_ packet: inout [UInt8]) throws {
        try transform(&packet, trailer: Self.rtcpTrailerCapacity, srtp_protect_rtcp)
    }

    /// Verifies and decrypts an SRTCP packet in place.
    public func unprotectRTCP(_ packet: inout [UInt8]) throws {
        try transform(&packet, trailer: 0, srtp_unprotect_rtcp)
    }

    private func transform(
        _ packet: inout [UInt8], trailer: Int, rtp: Bool = false,
        _ operation: (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t
    ) throws {
        guard packet.count >= 8, packet.count <= Int(Int32.max) - trailer else { throw SRTPError(kind: .malformed) }
        let length = packet.count
        packet.append(contentsOf: repeatElement(0, count: trailer))
        do {
            let result = try packet.withUnsafeMutableBytes { bytes throws(SRTPError) in
                try transform(bytes, length: length, trailer: trailer, rtp: rtp, operation)
            }
            packet.removeLast(packet.count - result)
        } catch {
            packet.removeLast(trailer)
            throw error
        }
    }

    // MARK: In a caller's buffer

    /// Encrypts and authenticates the RTP packet in the first `length` bytes of `buffer`, which
    /// has room for the trailer (`rtpTrailerCapacity`); returns the protected length.
    public func protect(rtp buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try transform(buffer, length: length, trailer: Self.rtpTrailerCapacity, rtp: true, srtp_protect)
    }

    /// Verifies and decrypts the SRTP packet in the first `length` bytes of `buffer`; returns the
    /// plain packet's length.
    public func unprotect(rtp buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try transform(buffer, length: length, trailer: 0, rtp: true, srtp_unprotect)
    }

    private func transform(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, trailer: Int, rtp: Bool = false,
        _ operation: (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t
    ) throws(SRTPError) -> Int {
        guard length >= 8, length + trailer <= buffer.count, length <= Int(Int32.max) - trailer, let base = buffer.baseAddress
        else { throw SRTPError(kind: .malformed) }
        if rtp, let aead {
            guard let headerLength = Self.rtpHeaderLength(buffer, length: length) else { throw SRTPError(kind: .malformed) }
            return trailer > 0
                ? try aead.protect(buffer, length: length, headerLength: headerLength)
                : try aead.unprotect(buffer, length: length, headerLength: headerLength)
        }
        var result = Int32(length)
        let status = operation(session, base, &result)
        guard status == srtp_err_status_ok else { throw SRTPError(status: status) }
        return Int(result)
    }

    /// The length of an RTP header with its CSRCs and extension, if the packet holds it.
    static func rtpHeaderLength(_ packet: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        guard length >= 12 else { return nil }
        var header = 12 + 4 * Int(packet[0] & 0x0F)
        if packet[0] & 0x10 != 0 {
            guard length >= header + 4 else { return nil }
            header += 4 + 4 * (Int(packet[header + 2]) << 8 | Int(packet[header + 3]))
        }
        return header <= length ? header : nil
    }

    // MARK: ByteBuffer

    /// Encrypts and authenticates the RTP packet in `buffer`'s readable bytes in place.
    public func protect(rtp buffer: inout ByteBuffer) throws {
        try transform(&buffer, trailer: Self.rtpTrailerCapacity, rtp: true, srtp_protect)
    }

    /// Verifies and decrypts the SRTP packet in `buffer`'s readable bytes in place.
    public func unprotect(rtp buffer: inout ByteBuffer) throws {
        try transform(&buffer, trailer: 0, rtp: true, srtp_unprotect)
    }

    /// Encrypts and authenticates the RTCP packet in `buffer`'s readable bytes in place.
    public func protectRTCP(_ buffer: inout ByteBuffer) throws {
        try transform(&buffer, trailer: Self.rtcpTrailerCapacity, srtp_protect_rtcp)
    }

    /// Verifies and decrypts the SRTCP packet in `buffer`'s readable bytes in place.
    public func unprotectRTCP(_ buffer: inout ByteBuffer) throws {
        try transform(&buffer, trailer: 0, srtp_unprotect_rtcp)
    }

    private func transform(
        _ buffer: inout ByteBuffer, trailer: Int, rtp: Bool = false,
        _ operation: (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t
    ) throws {
        let count = buffer.readableBytes
        guard count >= 8, count <= Int(Int32.max) - trailer else { throw SRTPError(kind: .malformed) }
        buffer.reserveCapacity(minimumWritableBytes: trailer)
        let start = buffer.readerIndex
        let length = try buffer.withVeryUnsafeMutableBytes { storage in
            try transform(UnsafeMutableRawBufferPointer(rebasing: storage[start...]), length: count, trailer: trailer, rtp: rtp, operation)
        }
        buffer.moveWriterIndex(to: start + length)
    }
}
