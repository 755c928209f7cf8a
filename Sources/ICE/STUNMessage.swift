// The STUN message (RFC 8489 §5-§6): the 20-byte header (two zero bits, the message type
// interleaving a 12-bit method with a 2-bit class, the length, the magic cookie 0x2112A442 and
// a 96-bit transaction ID), attributes padded to four bytes (§14), MESSAGE-INTEGRITY and
// MESSAGE-INTEGRITY-SHA256 over the message with the length adjusted (§14.5, §14.6; short-term
// credentials, key = password, §9.1.1), FINGERPRINT (§14.7, CRC-32 XOR 0x5354554E), and the
// first-byte demultiplexing of RFC 7983 §7.

import NIOCore

/// A STUN transaction ID: 96 bits.
public struct STUNTransactionID: Hashable, Sendable, CustomStringConvertible {
    /// The first four bytes.
    public var high: UInt32
    /// The last eight bytes.
    public var low: UInt64

    public init(high: UInt32, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A transaction ID from twelve bytes (missing bytes are zero).
    public init(bytes: [UInt8]) {
        var high: UInt32 = 0
        var low: UInt64 = 0
        for i in 0..<12 {
            let byte = i < bytes.count ? bytes[i] : 0
            if i < 4 { high = high << 8 | UInt32(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// A random transaction ID (RFC 8489 §5: uniformly and randomly chosen).
    public static func random<R: RandomNumberGenerator>(using generator: inout R) -> STUNTransactionID {
        STUNTransactionID(high: generator.next(), low: generator.next())
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(12)
        out.appendBigEndian(high)
        out.appendBigEndian(low)
        return out
    }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// The class of a STUN message (RFC 8489 §5).
public enum STUNClass: UInt8, Hashable, Sendable {
    case request = 0b00
    case indication = 0b01
    case successResponse = 0b10
    case errorResponse = 0b11
}

/// A STUN method (RFC 8489 §18.2); only Binding matters to ICE.
public struct STUNMethod: RawRepresentable, Hashable, Sendable {
    /// The 12-bit method number.
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }

    public static let binding = STUNMethod(rawValue: 0x001)
}

/// The message type: method and class interleaved in 14 bits (RFC 8489 §5, figure 3).
public struct STUNMessageType: Hashable, Sendable {
    public var method: STUNMethod
    public var messageClass: STUNClass

    public init(method: STUNMethod, messageClass: STUNClass) {
        self.method = method
        self.messageClass = messageClass
    }

    /// Splits the 14-bit field M11..M7 C1 M6..M4 C0 M3..M0.
    public init(rawValue: UInt16) {
        let m = (rawValue & 0x000F) | ((rawValue & 0x00E0) >> 1) | ((rawValue & 0x3E00) >> 2)
        let c = ((rawValue & 0x0010) >> 4) | ((rawValue & 0x0100) >> 7)
        self.method = STUNMethod(rawValue: m)
        self.messageClass = STUNClass(rawValue: UInt8(c))!
    }

    public var rawValue: UInt16 {
        let m = method.rawValue
        let c = UInt16(messageClass.rawValue)
        return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
    }

    public static let bindingRequest = STUNMessageType(method: .binding, messageClass: .request)
    public static let bindingIndication = STUNMessageType(method: .binding, messageClass: .indication)
    public static let bindingSuccess = STUNMessageType(method: .binding, messageClass: .successResponse)
    public static let bindingError = STUNMessageType(method: .binding, messageClass: .errorResponse)
}

/// Why bytes are not a well-formed STUN message.
public struct STUNParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// Shorter than the 20-byte header.
        case truncatedHeader
        /// The two leading bits are not zero (RFC 8489 §6).
        case notSTUN
        /// The magic cookie is not 0x2112A442.
        case badMagicCookie
        /// The length field is not a multiple of 4 or disagrees with the datagram's size.
        case badLength
        /// An attribute runs past the end of the message.
        case truncatedAttribute
        /// A known attribute's value has the wrong size or content.
        case malformedAttribute(STUNAttributeType)
        /// Something follows FINGERPRINT, which must be last (RFC 8489 §14.7).
        case attributeAfterFingerprint
    }

    public var reason: Reason
    public init(_ reason: Reason) { self.reason = reason }
    public var description: String { "malformed STUN message: \(reason)" }
}

/// A STUN message: header fields and attributes in order. A parsed message also keeps its bytes so
/// its MESSAGE-INTEGRITY and FINGERPRINT can be verified.
public struct STUNMessage: Sendable {
    /// 0x2112A442 (RFC 8489 §5).
    public static let magicCookie: UInt32 = 0x2112_A442
    /// The value FINGERPRINT's CRC-32 is XORed with (RFC 8489 §14.7).
    public static let fingerprintXOR: UInt32 = 0x5354_554E
    static let headerSize = 20

    public var type: STUNMessageType
    public var transactionID: STUNTransactionID
    /// Attributes in wire order, unknown ones included. After MESSAGE-INTEGRITY only
    /// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are kept; others there are ignored (§14.5).
    public var attributes: [STUNAttribute]

    /// The bytes this message was parsed from, and where its checksums start in them.
    private var wire: [UInt8]?
    private var integrityOffset: Int?
    private var integritySHA256Offset: Int?
    private var fingerprintOffset: Int?

    public init(type: STUNMessageType, transactionID: STUNTransactionID, attributes: [STUNAttribute] = []) {
        self.type = type
        self.transactionID = transactionID
        self.attributes = attributes
    }

    // MARK: Demultiplexing (RFC 7983 §7)

    /// Whether a datagram starting with `firstByte` is STUN in the RFC 7983 demultiplexing
    /// scheme (0-3 STUN, 20-63 DTLS, 128-191 RTP/RTCP).
    @inline(__always)
    public static func isSTUN(firstByte: UInt8) -> Bool { firstByte <= 3 }

    /// The cheap check before parsing: first byte 0-3, a full header, a length that is a multiple
    /// of four matching the datagram, and the magic cookie.
    public static func looksLikeSTUN(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= headerSize, isSTUN(firstByte: bytes[0]) else { return false }
        let length = Int(readUInt16(bytes, 2))
        return length % 4 == 0 && length + headerSize == bytes.count && readUInt32(bytes, 4) == magicCookie
    }

    public static func looksLikeSTUN(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { looksLikeSTUN($0) }
    }

    public static func looksLikeSTUN(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { looksLikeSTUN($0) }
    }

    // MARK: Parsing

    public static func parse(_ bytes: [UInt8]) throws(STUNParseError) -> STUNMessage {
        let result: Result<STUNMessage, STUNParseError> = bytes.withUnsafeBytes { raw in
            do throws(STUNParseError) { return .success(try parseFields(raw)) } catch { return .failure(error) }
        }
        var message = try result.get()
        message.wire = bytes
        return message
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(STUNParseError) -> STUNMessage {
        var message = try parseFields(bytes)
        message.wire = Array(bytes)
        return message
    }

    /// Parses the readable bytes of `buffer` without moving its reader index.
    public static func parse(_ buffer: ByteBuffer) throws(STUNParseError) -> STUNMessage {
        let result: Result<STUNMessage, STUNParseError> = buffer.withUnsafeReadableBytes { raw in
            do throws(STUNParseError) { return .success(try parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private static func parseFields(_ bytes: UnsafeRawBufferPointer) throws(STUNParseError) -> STUNMessage {
        guard bytes.count >= headerSize else { throw STUNParseError(.truncatedHeader) }
        let rawType = readUInt16(bytes, 0)
        guard rawType & 0xC000 == 0 else { throw STUNParseError(.notSTUN) }
        let length = Int(readUInt16(bytes, 2))
        guard readUInt32(bytes, 4) == magicCookie else { throw STUNParseError(.badMagicCookie) }
        guard length % 4 == 0, length + headerSize == bytes.count else { throw STUNParseError(.badLength) }
        let transactionID = STUNTransactionID(high: readUInt32(bytes, 8), low: readUInt64(bytes, 12))
        var message = STUNMessage(type: STUNMessageType(rawValue: rawType), transactionID: transactionID)

        var offset = headerSize
        while offset < bytes.count {
            if message.fingerprintOffset != nil { throw STUNParseError(.attributeAfterFingerprint) }
            guard offset + 4 <= bytes.count else { throw STUNParseError(.truncatedAttribute) }
            let type = STUNAttributeType(rawValue: readUInt16(bytes, offset))
            let valueLength = Int(readUInt16(bytes, offset + 2))
            let paddedLength = (valueLength + 3) & ~3
            guard offset + 4 + paddedLength <= bytes.count else { throw STUNParseError(.truncatedAttribute) }
            let value = UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + 4 + valueLength)])
            let start = offset
            offset += 4 + paddedLength

            // RFC 8489 §14.5/§14.6: after an integrity attribute only the later checksums count.
            if message.integritySHA256Offset != nil, type != .fingerprint { continue }
            if message.integrityOffset != nil, type != .fingerprint, type != .messageIntegritySHA256 { continue }

            let attribute = try STUNAttribute.decode(type: type, value: value, transactionID: transactionID)
            switch type {
            case .messageIntegrity: message.integrityOffset = start
            case .messageIntegritySHA256: message.integritySHA256Offset = start
            case .fingerprint: message.fingerprintOffset = start
            default: break
            }
            message.attributes.append(attribute)
        }
        return message
    }

    // MARK: Verification

    /// Whether the message carries MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256.
    public var hasIntegrity: Bool { integrityOffset != nil || integritySHA256Offset != nil }

    /// Whether the message carries FINGERPRINT.
    public var hasFingerprint: Bool { fingerprintOffset != nil }

    /// Checks the integrity of a parsed message under short-term credentials (RFC 8489 §9.1.3:
    /// the key is the password). MESSAGE-INTEGRITY-SHA256 is checked when present, otherwise
    /// MESSAGE-INTEGRITY; false when neither is present or the message was not parsed.
    public func verifyIntegrity(password: String) -> Bool {
        verifyIntegrity(key: Array(password.utf8))
    }

    /// Checks the integrity under an explicit HMAC key (long-term credentials derive theirs
    /// from username, realm and password, RFC 8489 §9.2.2).
    public func verifyIntegrity(key: [UInt8]) -> Bool {
        guard let wire else { return false }
        if let start = integritySHA256Offset {
            let macLength = Int(wire[start + 2]) << 8 | Int(wire[start + 3])
            let expected = STUNMessage.mac(over: wire, upTo: start, attributeSize: 4 + macLength) { message in
                STUNCrypto.hmacSHA256(key: key, message: message)
            }
            let received = Array(wire[(start + 4)..<(start + 4 + macLength)])
            return STUNCrypto.constantTimeEqual(expected, received, count: macLength)
        }
        if let start = integrityOffset {
            let expected = STUNMessage.mac(over: wire, upTo: start, attributeSize: 24) { message in
                STUNCrypto.hmacSHA1(key: key, message: message)
            }
            let received = Array(wire[(start + 4)..<(start + 24)])
            return STUNCrypto.constantTimeEqual(expected, received, count: 20)
        }
        return false
    }

    /// Checks FINGERPRINT (RFC 8489 §14.7); false when it is absent or the message was not parsed.
    public func verifyFingerprint() -> Bool {
        guard let wire, let start = fingerprintOffset else { return false }
        let received = wire.withUnsafeBytes { readUInt32($0, start + 4) }
        // FINGERPRINT is last, so the length field already covers it.
        let crc = wire.withUnsafeBytes { STUNCrypto.crc32(UnsafeRawBufferPointer(rebasing: $0[..<start])) }
        return crc ^ STUNMessage.fingerprintXOR == received
    }

    /// Applies `hmac` to the bytes before an integrity attribute starting at `start`, with the header
    /// length set as if the message ended after that attribute (`attributeSize` bytes).
    private static func mac(
        over wire: [UInt8], upTo start: Int, attributeSize: Int, _ hmac: (UnsafeRawBufferPointer) -> [UInt8]
    ) -> [UInt8] {
        var prefix = Array(wire[..<start])
        prefix.setBigEndian(UInt16(start + attributeSize - headerSize), at: 2)
        return prefix.withUnsafeBytes { hmac($0) }
    }

    // MARK: Encoding

    /// The message on the wire. Attributes are written in order, except that any
    /// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT among them are dropped and
    /// computed afresh at the end as asked: MESSAGE-INTEGRITY when `integrityPassword` is given,
    /// MESSAGE-INTEGRITY-SHA256 after it when `integritySHA256` is also set, FINGERPRINT last.
    /// `padding` fills the gap after values whose length is not a multiple of four (RFC 8489 §14
    /// lets it be anything; RFC 5769's vectors use spaces).
    public func encode(
        integrityPassword: String? = nil, integritySHA256: Bool = false, fingerprint: Bool = false,
        padding: UInt8 = 0
    ) -> [UInt8] {
        encode(integrityKey: integrityPassword.map { Array($0.utf8) }, integritySHA256: integritySHA256,
               fingerprint: fingerprint, padding: padding)
    }

    /// As `encode(integrityPassword:...)` with an explicit HMAC key.
    public func encode(
        integrityKey: [UInt8]?, integritySHA256: Bool = false, fingerprint: Bool = false, padding: UInt8 = 0
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        out.appendBigEndian(type.rawValue)
        out.appendBigEndian(UInt16(0))
        out.appendBigEndian(STUNMessage.magicCookie)
        out.appendBigEndian(transactionID.high)
        out.appendBigEndian(transactionID.low)

        for attribute in attributes {
            switch attribute {
            case .messageIntegrity, .messageIntegritySHA256, .fingerprint: continue
            default: break
            }
            let headerStart = out.count
            out.appendBigEndian(attribute.type.rawValue)
            out.appendBigEndian(UInt16(0))
            attribute.encodeValue(into: &out, transactionID: transactionID)
            let valueLength = out.count - headerStart - 4
            out.setBigEndian(UInt16(truncatingIfNeeded: valueLength), at: headerStart + 2)
            while out.count % 4 != 0 { out.append(padding) }
        }

        if let key = integrityKey {
            out.setBigEndian(UInt16(out.count + 24 - STUNMessage.headerSize), at: 2)
            let mac = out.withUnsafeBytes { STUNCrypto.hmacSHA1(key: key, message: $0) }
            out.appendBigEndian(STUNAttributeType.messageIntegrity.rawValue)
            out.appendBigEndian(UInt16(20))
            out.append(contentsOf: mac)
            if integritySHA256 {
                out.setBigEndian(UInt16(out.count + 36 - STUNMessage.headerSize), at: 2)
                let mac256 = out.withUnsafeBytes { STUNCrypto.hmacSHA256(key: key, message: $0) }
                out.appendBigEndian(STUNAttributeType.messageIntegritySHA256.rawValue)
                out.appendBigEndian(UInt16(32))
                out.append(contentsOf: mac256)
            }
        }
        if fingerprint {
            out.setBigEndian(UInt16(out.count + 8 - STUNMessage.headerSize), at: 2)
            let crc = out.withUnsafeBytes { STUNCrypto.crc32($0) }
            out.appendBigEndian(STUNAttributeType.fingerprint.rawValue)
            out.appendBigEndian(UInt16(4))
            out.appendBigEndian(crc ^ STUNMessage.fingerprintXOR)
        }
        out.setBigEndian(UInt16(out.count - STUNMessage.headerSize), at: 2)
        return out
    }

    // MARK: Attribute access

    /// The first attribute of `type`, if any.
    public func attribute(_ type: STUNAttributeType) -> STUNAttribute? {
        attributes.first { $0.type == type }
    }

    public var username: String? {
        for case .username(let value) in attributes { return value }
        return nil
    }

    public var software: String? {
        for case .software(let value) in attributes { return value }
        return nil
    }

    public var priority: UInt32? {
        for case .priority(let value) in attributes { return value }
        return nil
    }

    public var useCandidate: Bool { attributes.contains(.useCandidate) }

    public var iceControlling: UInt64? {
        for case .iceControlling(let value) in attributes { return value }
        return nil
    }

    public var iceControlled: UInt64? {
        for case .iceControlled(let value) in attributes { return value }
        return nil
    }

    public var xorMappedAddress: ICETransportAddress? {
        for case .xorMappedAddress(let value) in attributes { return value }
        return nil
    }

    public var mappedAddress: ICETransportAddress? {
        for case .mappedAddress(let value) in attributes { return value }
        return nil
    }

    public var errorCode: STUNErrorCode? {
        for case .errorCode(let value) in attributes { return value }
        return nil
    }

    public var fingerprint: UInt32? {
        for case .fingerprint(let value) in attributes { return value }
        return nil
    }

    /// Comprehension-required attribute types this codec does not understand, in order, once
    /// each: a server answers a request carrying any with 420 (RFC 8489 §6.3.1.1).
    public var unknownComprehensionRequired: [UInt16] {
        var types: [UInt16] = []
        for case .other(let type, _) in attributes where type.isComprehensionRequired {
            if !types.contains(type.rawValue) { types.append(type.rawValue) }
        }
        return types
    }
}
