// SRTP with AEAD_AES_128_GCM and AEAD_AES_256_GCM (RFC 7714) for RTP packets, on OpenSSL's
// AES-GCM. Debian's libsrtp2 does its AES through NSS, which creates a cipher context, a lock and
// a heap block for every packet (a fifth of a relayed call's CPU in a profile of tandemd); here
// one EVP context per direction is kept and only its IV changes per packet. libsrtp still does
// SRTCP and the AES-CM/HMAC-SHA1 profiles, and the tests check this cipher against libsrtp both
// ways, packet for packet.
//
// What it does, per RFC 7714 and RFC 3711:
// - session key and salt from the master key and salt with the AES-CM key derivation (RFC 3711
//   §4.3, key derivation rate 0), the 96-bit master salt zero-padded to the PRF's 112 bits;
// - the 12-byte IV: 0x0000, SSRC, ROC, SEQ, XORed with the session salt (RFC 7714 §8.1);
// - the RTP header (CSRCs and extension included) as additional authenticated data, the payload
//   encrypted in place, the 16-byte tag appended (§8.2);
// - the rollover counter guessed from the sequence number (RFC 3711 §3.3.1, Appendix A) and a
//   128-packet replay window per stream, updated only once a packet's tag has verified.
// One stream per direction, keyed by SSRC: a new SSRC starts a new stream at ROC 0, as libsrtp's
// `ssrc_any_*` policies do.

import COpenSSL

final class SRTPAEADCipher {
    private let context: OpaquePointer
    private let sessionSalt: (UInt64, UInt32)  // 12 bytes, as two words in memory order
    private let encrypting: Bool

    // The stream: its SSRC, rollover counter, highest sequence number and replay window.
    private var ssrc: UInt32?
    private var rollover: UInt32 = 0
    private var highest: UInt16 = 0
    private var window: (UInt64, UInt64) = (0, 0)  // bit i: highest index - i was seen

    static let tagLength = 16

    init(masterKey: [UInt8], masterSalt: [UInt8], encrypting: Bool) throws(SRTPError) {
        guard masterKey.count == 16 || masterKey.count == 32, masterSalt.count == 12 else { throw SRTPError(kind: .malformed) }
        let gcm = masterKey.count == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm()
        var key = Self.derive(label: 0x00, count: masterKey.count, masterKey: masterKey, masterSalt: masterSalt)
        let salt = Self.derive(label: 0x02, count: 12, masterKey: masterKey, masterSalt: masterSalt)
        defer { for index in key.indices { key[index] = 0 } }
        guard let context = EVP_CIPHER_CTX_new() else { throw SRTPError(kind: .other) }
        let ready = key.withUnsafeBufferPointer { key in
            encrypting ? EVP_EncryptInit_ex(context, gcm, nil, key.baseAddress, nil) : EVP_DecryptInit_ex(context, gcm, nil, key.baseAddress, nil)
        }
        guard ready == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw SRTPError(kind: .other)
        }
        self.context = context
        self.encrypting = encrypting
        sessionSalt = salt.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// The AES-CM PRF of RFC 3711 §4.3.3: `count` bytes of keystream under the master key, with
    /// the IV (master salt XOR label at byte 7) followed by a 16-bit block counter.
    static func derive(label: UInt8, count: Int, masterKey: [UInt8], masterSalt: [UInt8]) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 16)
        for (index, byte) in masterSalt.prefix(14).enumerated() { block[index] = byte }
        block[7] ^= label
        let ecb = masterKey.count == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb()
        var output = [UInt8]()
        guard let context = EVP_CIPHER_CTX_new() else { return [] }
        defer { EVP_CIPHER_CTX_free(context) }
        _ = masterKey.withUnsafeBufferPointer { EVP_EncryptInit_ex(context, ecb, nil, $0.baseAddress, nil) }
        EVP_CIPHER_CTX_set_padding(context, 0)
        var counter: UInt16 = 0
        while output.count < count {
            block[14] = UInt8(counter >> 8)
            block[15] = UInt8(truncatingIfNeeded: counter)
            var keystream = [UInt8](repeating: 0, count: 32)
            var written: Int32 = 0
            _ = EVP_EncryptUpdate(context, &keystream, &written, block, 16)
            output += keystream.prefix(16)
            counter &+= 1
        }
        return Array(output.prefix(count))
    }

    /// Encrypts the RTP packet in the first `length` bytes of `buffer` (which has room for the
    /// tag) and returns the protected length.
    func protect(_ buffer: UnsafeMutableRawBufferPointer, length: Int, headerLength: Int) throws(SRTPError) -> Int {
        guard length + Self.tagLength <= buffer.count, let base = buffer.baseAddress else { throw SRTPError(kind: .malformed) }
        let (ssrc, sequence) = Self.identity(base)
        if self.ssrc != ssrc {
            self.ssrc = ssrc
            rollover = 0
            highest = sequence
        } else if sequence < highest && highest &- sequence > 0x8000 {
            rollover &+= 1  // the sequence number wrapped
            highest = sequence
        } else if sequence > highest {
            highest = sequence
        }
        guard run(base, length: length, headerLength: headerLength, ssrc: ssrc, rollover: rollover, sequence: sequence) else {
            throw SRTPError(kind: .other)
        }
        return length + Self.tagLength
    }

    /// Verifies and decrypts the SRTP packet in the first `length` bytes of `buffer`; returns the
    /// plain packet's length.
    func unprotect(_ buffer: UnsafeMutableRawBufferPointer, length: Int, headerLength: Int) throws(SRTPError) -> Int {
        guard length >= headerLength + Self.tagLength, let base = buffer.baseAddress else { throw SRTPError(kind: .malformed) }
        let (ssrc, sequence) = Self.identity(base)
        let known = self.ssrc == ssrc
        // The index this packet most likely has (RFC 3711 Appendix A), against the highest seen.
        var guessed = known ? rollover : 0
        if known {
            if highest < 0x8000 {
                if Int(sequence) - Int(highest) > 0x8000 { guessed = rollover &- 1 }
            } else if Int(highest) - 0x8000 > Int(sequence) {
                guessed = rollover &+ 1
            }
            // Replay: the index is compared with the highest one seen.
            let index = Int64(guessed) << 16 | Int64(sequence)
            let top = Int64(rollover) << 16 | Int64(highest)
            let age = top - index
            if age >= 128 || (age >= 0 && seen(age)) { throw SRTPError(kind: .replayed) }
        }
        guard run(base, length: length - Self.tagLength, headerLength: headerLength, ssrc: ssrc, rollover: guessed, sequence: sequence) else {
            throw SRTPError(kind: .authenticationFailed)
        }
        // Verified: the stream moves on.
        if !known {
            self.ssrc = ssrc
            rollover = guessed
            highest = sequence
            window = (1, 0)
        } else {
            let index = Int64(guessed) << 16 | Int64(sequence)
            let top = Int64(rollover) << 16 | Int64(highest)
            if index > top {
                shift(by: index - top)
                window.0 |= 1
                rollover = guessed
                highest = sequence
            } else {
                mark(top - index)
            }
        }
        return length - Self.tagLength
    }

    // MARK: Helpers

    @inline(__always)
    private static func identity(_ base: UnsafeMutableRawPointer) -> (ssrc: UInt32, sequence: UInt16) {
        (UInt32(bigEndian: base.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
         UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
    }

    /// AES-GCM over one packet: the header authenticated, `length - headerLength` payload bytes
    /// encrypted or decrypted in place, the tag written after them or checked against them.
    private func run(_ base: UnsafeMutableRawPointer, length: Int, headerLength: Int, ssrc: UInt32, rollover: UInt32, sequence: UInt16) -> Bool {
        // 00 00 | SSRC | ROC | SEQ, big-endian, XOR the session salt.
        var iv: (UInt64, UInt32) = (0, 0)
        withUnsafeMutableBytes(of: &iv) { raw in
            raw.storeBytes(of: UInt16(0), toByteOffset: 0, as: UInt16.self)
            raw.storeBytes(of: ssrc.bigEndian, toByteOffset: 2, as: UInt32.self)
            raw.storeBytes(of: rollover.bigEndian, toByteOffset: 6, as: UInt32.self)
            raw.storeBytes(of: sequence.bigEndian, toByteOffset: 10, as: UInt16.self)
        }
        iv.0 ^= sessionSalt.0
        iv.1 ^= sessionSalt.1
        let header = base.assumingMemoryBound(to: UInt8.self)
        let payload = header + headerLength
        let payloadLength = Int32(length - headerLength)
        var written: Int32 = 0
        return withUnsafeBytes(of: &iv) { iv -> Bool in
            let ivBytes = iv.baseAddress!.assumingMemoryBound(to: UInt8.self)
            if encrypting {
                guard EVP_EncryptInit_ex(context, nil, nil, nil, ivBytes) == 1,
                    EVP_EncryptUpdate(context, nil, &written, header, Int32(headerLength)) == 1,
                    payloadLength == 0 || EVP_EncryptUpdate(context, payload, &written, payload, payloadLength) == 1,
                    EVP_EncryptFinal_ex(context, payload + Int(payloadLength), &written) == 1
                else { return false }
                return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagLength), payload + Int(payloadLength)) == 1
            }
            guard EVP_DecryptInit_ex(context, nil, nil, nil, ivBytes) == 1,
                EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagLength), payload + Int(payloadLength)) == 1,
                EVP_DecryptUpdate(context, nil, &written, header, Int32(headerLength)) == 1,
                payloadLength == 0 || EVP_DecryptUpdate(context, payload, &written, payload, payloadLength) == 1
            else { return false }
            return EVP_DecryptFinal_ex(context, payload + Int(payloadLength), &written) == 1
        }
    }

    private func seen(_ age: Int64) -> Bool {
        age < 64 ? window.0 & (1 << UInt64(age)) != 0 : window.1 & (1 << UInt64(age - 64)) != 0
    }

    private func mark(_ age: Int64) {
        if age < 64 { window.0 |= 1 << UInt64(age) } else if age < 128 { window.1 |= 1 << UInt64(age - 64) }
    }

    private func shift(by distance: Int64) {
        if distance >= 128 {
            window = (0, 0)
        } else if distance >= 64 {
            window = (0, window.0 << UInt64(distance - 64))
        } else if distance > 0 {
            window = (window.0 << UInt64(distance), window.1 << UInt64(distance) | window.0 >> UInt64(64 - distance))
        }
    }
}
