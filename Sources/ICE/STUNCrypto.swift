// The checksums STUN attributes carry: HMAC-SHA1 for MESSAGE-INTEGRITY (RFC 8489 §14.5),
// HMAC-SHA256 for MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6), both through OpenSSL, and the
// CRC-32 of FINGERPRINT (RFC 8489 §14.7, the ISO HDLC / ITU V.42 polynomial of RFC 1952 §8)
// computed here from a table. Comparisons of MACs run in constant time.

import COpenSSL

enum STUNCrypto {
    /// HMAC-SHA1 (20 bytes) of `message` under `key`.
    static func hmacSHA1(key: [UInt8], message: UnsafeRawBufferPointer) -> [UInt8] {
        hmac(EVP_sha1(), size: 20, key: key, message: message)
    }

    /// HMAC-SHA256 (32 bytes) of `message` under `key`.
    static func hmacSHA256(key: [UInt8], message: UnsafeRawBufferPointer) -> [UInt8] {
        hmac(EVP_sha256(), size: 32, key: key, message: message)
    }

    private static func hmac(
        _ md: OpaquePointer?, size: Int, key: [UInt8], message: UnsafeRawBufferPointer
    ) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        var length: UInt32 = 0
        // An empty key still needs a non-null pointer for OpenSSL.
        let keyBytes = key.isEmpty ? [0] : key
        let result = keyBytes.withUnsafeBufferPointer { k in
            output.withUnsafeMutableBufferPointer { out in
                HMAC(
                    md, k.baseAddress, Int32(key.count),
                    message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count,
                    out.baseAddress, &length)
            }
        }
        precondition(result != nil && Int(length) == size, "OpenSSL cannot compute an HMAC")
        return output
    }

    /// Whether the first `count` bytes of `a` and `b` agree, in time independent of where they differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8], count: Int) -> Bool {
        guard a.count >= count, b.count >= count else { return false }
        var difference: UInt8 = 0
        for i in 0..<count { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    /// The reflected CRC-32 table for polynomial 0xEDB88320.
    private static let crcTable: [UInt32] = (0..<256).map { index -> UInt32 in
        var value = UInt32(index)
        for _ in 0..<8 {
            value = (value & 1) != 0 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1
        }
        return value
    }

    /// CRC-32 of `bytes`, as zlib's `crc32` and RFC 1952 compute it.
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        crcTable.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
