// STUN attributes (RFC 8489 §14) and the ICE ones (RFC 8445 §16.1): their registered types, the
// comprehension-required range below 0x8000 (RFC 8489 §14), and decoding and encoding of each
// value: XOR-MAPPED-ADDRESS (§14.2, IPv4 and IPv6), MAPPED-ADDRESS (§14.1), USERNAME (§14.3),
// ERROR-CODE (§14.8), UNKNOWN-ATTRIBUTES (§14.9), SOFTWARE (§14.14), PRIORITY, USE-CANDIDATE,
// ICE-CONTROLLED and ICE-CONTROLLING (RFC 8445 §7.1.1-§7.1.3). Attributes Tandem does not know
// are kept as raw bytes.

/// A STUN attribute type.
public struct STUNAttributeType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let mappedAddress = STUNAttributeType(rawValue: 0x0001)
    public static let username = STUNAttributeType(rawValue: 0x0006)
    public static let messageIntegrity = STUNAttributeType(rawValue: 0x0008)
    public static let errorCode = STUNAttributeType(rawValue: 0x0009)
    public static let unknownAttributes = STUNAttributeType(rawValue: 0x000A)
    public static let realm = STUNAttributeType(rawValue: 0x0014)
    public static let nonce = STUNAttributeType(rawValue: 0x0015)
    public static let messageIntegritySHA256 = STUNAttributeType(rawValue: 0x001C)
    public static let xorMappedAddress = STUNAttributeType(rawValue: 0x0020)
    public static let priority = STUNAttributeType(rawValue: 0x0024)
    public static let useCandidate = STUNAttributeType(rawValue: 0x0025)
    public static let software = STUNAttributeType(rawValue: 0x8022)
    public static let fingerprint = STUNAttributeType(rawValue: 0x8028)
    public static let iceControlled = STUNAttributeType(rawValue: 0x8029)
    public static let iceControlling = STUNAttributeType(rawValue: 0x802A)

    /// Types 0x0000-0x7FFF must be understood by the receiver (RFC 8489 §14).
    public var isComprehensionRequired: Bool { rawValue < 0x8000 }

    public var description: String { "0x" + String(rawValue, radix: 16, uppercase: true) }
}

/// The value of an ERROR-CODE attribute (RFC 8489 §14.8): a code from 300 to 699 and a reason.
public struct STUNErrorCode: Hashable, Sendable, CustomStringConvertible {
    public var code: Int
    public var reason: String

    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// The hundreds digit, 3 to 6.
    public var errorClass: Int { code / 100 }
    /// The code modulo 100.
    public var number: Int { code % 100 }

    public static let badRequest = STUNErrorCode(code: 400, reason: "Bad Request")
    public static let unauthenticated = STUNErrorCode(code: 401, reason: "Unauthenticated")
    public static let unknownAttribute = STUNErrorCode(code: 420, reason: "Unknown Attribute")
    public static let roleConflict = STUNErrorCode(code: 487, reason: "Role Conflict")
    public static let serverError = STUNErrorCode(code: 500, reason: "Server Error")

    public var description: String { "\(code) \(reason)" }
}

/// One STUN attribute, decoded.
public enum STUNAttribute: Hashable, Sendable {
    case mappedAddress(ICETransportAddress)
    case xorMappedAddress(ICETransportAddress)
    case username(String)
    case errorCode(STUNErrorCode)
    case unknownAttributes([UInt16])
    case software(String)
    /// The ICE candidate priority (RFC 8445 §7.1.1).
    case priority(UInt32)
    /// The controlling agent's nomination flag (RFC 8445 §7.1.2).
    case useCandidate
    /// The sender claims the controlling role; the value is its tie-breaker (RFC 8445 §7.1.3).
    case iceControlling(UInt64)
    /// The sender claims the controlled role; the value is its tie-breaker.
    case iceControlled(UInt64)
    /// An HMAC-SHA1 as received. `STUNMessage.encode` computes its own and skips this one.
    case messageIntegrity([UInt8])
    /// An HMAC-SHA256 (possibly truncated) as received; skipped by `encode` like the above.
    case messageIntegritySHA256([UInt8])
    /// A CRC-32 as received; skipped by `encode`, which computes its own.
    case fingerprint(UInt32)
    /// Any other attribute, kept as its value bytes (without padding).
    case other(type: STUNAttributeType, value: [UInt8])

    public var type: STUNAttributeType {
        switch self {
        case .mappedAddress: return .mappedAddress
        case .xorMappedAddress: return .xorMappedAddress
        case .username: return .username
        case .errorCode: return .errorCode
        case .unknownAttributes: return .unknownAttributes
        case .software: return .software
        case .priority: return .priority
        case .useCandidate: return .useCandidate
        case .iceControlling: return .iceControlling
        case .iceControlled: return .iceControlled
        case .messageIntegrity: return .messageIntegrity
        case .messageIntegritySHA256: return .messageIntegritySHA256
        case .fingerprint: return .fingerprint
        case .other(let type, _): return type
        }
    }

    /// Decodes the value of an attribute of `type`. `transactionID` unmasks XOR addresses.
    static func decode(
        type: STUNAttributeType, value: UnsafeRawBufferPointer, transactionID: STUNTransactionID
    ) throws(STUNParseError) -> STUNAttribute {
        func fail() -> STUNParseError { STUNParseError(.malformedAttribute(type)) }
        switch type {
        case .mappedAddress:
            guard let address = decodeAddress(value, xor: nil) else { throw fail() }
            return .mappedAddress(address)
        case .xorMappedAddress:
            guard let address = decodeAddress(value, xor: transactionID) else { throw fail() }
            return .xorMappedAddress(address)
        case .username:
            // RFC 8489 §14.3: fewer than 509 bytes.
            guard value.count <= 513 else { throw fail() }
            return .username(String(decoding: value, as: UTF8.self))
        case .software:
            return .software(String(decoding: value, as: UTF8.self))
        case .errorCode:
            guard value.count >= 4 else { throw fail() }
            let errorClass = Int(value[2] & 0x07)
            let number = Int(value[3])
            guard (3...6).contains(errorClass), number < 100 else { throw fail() }
            let reason = String(decoding: UnsafeRawBufferPointer(rebasing: value[4...]), as: UTF8.self)
            return .errorCode(STUNErrorCode(code: errorClass * 100 + number, reason: reason))
        case .unknownAttributes:
            guard value.count % 2 == 0 else { throw fail() }
            var types: [UInt16] = []
            var index = 0
            while index < value.count {
                types.append(readUInt16(value, index))
                index += 2
            }
            return .unknownAttributes(types)
        case .priority:
            guard value.count == 4 else { throw fail() }
            return .priority(readUInt32(value, 0))
        case .useCandidate:
            guard value.isEmpty else { throw fail() }
            return .useCandidate
        case .iceControlling:
            guard value.count == 8 else { throw fail() }
            return .iceControlling(readUInt64(value, 0))
        case .iceControlled:
            guard value.count == 8 else { throw fail() }
            return .iceControlled(readUInt64(value, 0))
        case .messageIntegrity:
            guard value.count == 20 else { throw fail() }
            return .messageIntegrity(Array(value))
        case .messageIntegritySHA256:
            // RFC 8489 §14.6: at least 16 bytes, a multiple of 4, at most 32.
            guard value.count >= 16, value.count <= 32, value.count % 4 == 0 else { throw fail() }
            return .messageIntegritySHA256(Array(value))
        case .fingerprint:
            guard value.count == 4 else { throw fail() }
            return .fingerprint(readUInt32(value, 0))
        default:
            return .other(type: type, value: Array(value))
        }
    }

    /// Appends the value (without header or padding) to `out`.
    func encodeValue(into out: inout [UInt8], transactionID: STUNTransactionID) {
        switch self {
        case .mappedAddress(let address):
            STUNAttribute.encodeAddress(address, xor: nil, into: &out)
        case .xorMappedAddress(let address):
            STUNAttribute.encodeAddress(address, xor: transactionID, into: &out)
        case .username(let text), .software(let text):
            out.append(contentsOf: text.utf8)
        case .errorCode(let error):
            out.append(contentsOf: [0, 0, UInt8(error.errorClass & 0x07), UInt8(error.number)])
            out.append(contentsOf: error.reason.utf8)
        case .unknownAttributes(let types):
            for type in types { out.appendBigEndian(type) }
        case .priority(let value):
            out.appendBigEndian(value)
        case .useCandidate:
            break
        case .iceControlling(let value), .iceControlled(let value):
            out.appendBigEndian(value)
        case .messageIntegrity(let bytes), .messageIntegritySHA256(let bytes):
            out.append(contentsOf: bytes)
        case .fingerprint(let value):
            out.appendBigEndian(value)
        case .other(_, let value):
            out.append(contentsOf: value)
        }
    }

    // MARK: Addresses (RFC 8489 §14.1, §14.2)

    private static func decodeAddress(
        _ value: UnsafeRawBufferPointer, xor transactionID: STUNTransactionID?
    ) -> ICETransportAddress? {
        guard value.count >= 4 else { return nil }
        let family = value[1]
        var port = readUInt16(value, 2)
        if transactionID != nil { port ^= UInt16(STUNMessage.magicCookie >> 16) }
        switch family {
        case 0x01:
            guard value.count == 8 else { return nil }
            var ip = readUInt32(value, 4)
            if transactionID != nil { ip ^= STUNMessage.magicCookie }
            return ICETransportAddress(ip: .v4(ip), port: port)
        case 0x02:
            guard value.count == 20 else { return nil }
            var high = readUInt64(value, 4)
            var low = readUInt64(value, 12)
            if let id = transactionID {
                high ^= UInt64(STUNMessage.magicCookie) << 32 | UInt64(id.high)
                low ^= id.low
            }
            return ICETransportAddress(ip: .v6(high, low), port: port)
        default:
            return nil
        }
    }

    private static func encodeAddress(
        _ address: ICETransportAddress, xor transactionID: STUNTransactionID?, into out: inout [UInt8]
    ) {
        let port = transactionID == nil ? address.port : address.port ^ UInt16(STUNMessage.magicCookie >> 16)
        switch address.ip {
        case .v4(let ip):
            out.append(contentsOf: [0, 0x01])
            out.appendBigEndian(port)
            out.appendBigEndian(transactionID == nil ? ip : ip ^ STUNMessage.magicCookie)
        case .v6(var high, var low):
            out.append(contentsOf: [0, 0x02])
            out.appendBigEndian(port)
            if let id = transactionID {
                high ^= UInt64(STUNMessage.magicCookie) << 32 | UInt64(id.high)
                low ^= id.low
            }
            out.appendBigEndian(high)
            out.appendBigEndian(low)
        }
    }
}

// MARK: Big-endian helpers

@inline(__always)
func readUInt16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
}

@inline(__always)
func readUInt32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
    UInt32(readUInt16(bytes, offset)) << 16 | UInt32(readUInt16(bytes, offset + 2))
}

@inline(__always)
func readUInt64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
    UInt64(readUInt32(bytes, offset)) << 32 | UInt64(readUInt32(bytes, offset + 4))
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var shift = T.bitWidth - 8
        while shift >= 0 {
            append(UInt8(truncatingIfNeeded: value >> shift))
            shift -= 8
        }
    }

    @inline(__always)
    mutating func setBigEndian(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }
}
