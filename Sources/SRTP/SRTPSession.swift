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

    /// Bytes libsrtp may append to an RTP packet (tag and MKI).
    static let rtpTrailerCapacity = Int(SRTP_MAX_TAG_LEN) + Int(SRTP_MAX_MKI_LEN)
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
        try transform(&packet, trailer: Self.rtpTrailerCapacity, srtp_protect)
    }

    /// Verifies and decrypts an SRTP packet in place.
    public func unprotect(rtp packet: inout [UInt8]) throws {
        try transform(&packet, trailer: 0, srtp_unprotect)
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
        _ packet: inout [UInt8], trailer: Int,
        _ operation: (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t
    ) throws {
        guard packet.count >= 8, packet.count <= Int(Int32.max) - trailer else { throw SRTPError(kind: .malformed) }
        var length = Int32(packet.count)
        packet.append(contentsOf: repeatElement(0, count: trailer))
        let status = packet.withUnsafeMutableBytes { operation(session, $0.baseAddress, &length) }
        guard status == srtp_err_status_ok else {
            packet.removeLast(trailer)
            throw SRTPError(status: status)
        }
        packet.removeLast(packet.count - Int(length))
    }

    // MARK: ByteBuffer

    /// Encrypts and authenticates the RTP packet in `buffer`'s readable bytes in place.
    public func protect(rtp buffer: inout ByteBuffer) throws {
        try transform(&buffer, trailer: Self.rtpTrailerCapacity, srtp_protect)
    }

    /// Verifies and decrypts the SRTP packet in `buffer`'s readable bytes in place.
    public func unprotect(rtp buffer: inout ByteBuffer) throws {
        try transform(&buffer, trailer: 0, srtp_unprotect)
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
        _ buffer: inout ByteBuffer, trailer: Int,
        _ operation: (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t
    ) throws {
        let count = buffer.readableBytes
        guard count >= 8, count <= Int(Int32.max) - trailer else { throw SRTPError(kind: .malformed) }
        buffer.reserveCapacity(minimumWritableBytes: trailer)
        var length = Int32(count)
        let start = buffer.readerIndex
        let session = self.session
        let status = buffer.withVeryUnsafeMutableBytes { storage in
            operation(session, storage.baseAddress! + start, &length)
        }
        guard status == srtp_err_status_ok else { throw SRTPError(status: status) }
        buffer.moveWriterIndex(to: start + Int(length))
    }
}
