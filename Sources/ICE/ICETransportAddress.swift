// A transport address (IP address and UDP port) as ICE and STUN speak of them (RFC 8445 §3,
// RFC 8489 §14.1-§14.2). A plain value, hashable and free of allocation, so the agent can key
// its tables by it on the packet path; conversions to and from NIOCore's `SocketAddress` are
// for the IO driver.

import NIOCore

/// An IPv4 or IPv6 address and a port.
public struct ICETransportAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IP address in network order, kept in integers.
    public enum IP: Hashable, Sendable {
        /// An IPv4 address, most significant octet first.
        case v4(UInt32)
        /// An IPv6 address: the first and the last eight octets, most significant first.
        case v6(UInt64, UInt64)
    }

    public var ip: IP
    public var port: UInt16

    public init(ip: IP, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// An IPv4 address from its four octets.
    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) {
        self.ip = .v4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
        self.port = port
    }

    /// An IPv6 address from its sixteen octets (extra octets are ignored, missing ones are zero).
    public init(ipv6 octets: [UInt8], port: UInt16) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<16 {
            let octet = UInt64(i < octets.count ? octets[i] : 0)
            if i < 8 { high = high << 8 | octet } else { low = low << 8 | octet }
        }
        self.ip = .v6(high, low)
        self.port = port
    }

    /// The address of an IPv4 or IPv6 `SocketAddress`; nil for Unix domain sockets.
    public init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            self.init(ip: .v4(UInt32(bigEndian: v4.address.sin_addr.s_addr)), port: UInt16(bigEndian: v4.address.sin_port))
        case .v6(let v6):
            var octets = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: v6.address.sin6_addr) { raw in
                for i in 0..<16 { octets[i] = raw[i] }
            }
            self.init(ipv6: octets, port: UInt16(bigEndian: v6.address.sin6_port))
        case .unixDomainSocket:
            return nil
        }
    }

    /// The address as a NIOCore `SocketAddress`.
    public var socketAddress: SocketAddress {
        var buffer = ByteBuffer()
        switch ip {
        case .v4(let value): buffer.writeInteger(value)
        case .v6(let high, let low):
            buffer.writeInteger(high)
            buffer.writeInteger(low)
        }
        // Sixteen or four packed bytes always make an address.
        return try! SocketAddress(packedIPAddress: buffer, port: Int(port))
    }

    /// Whether this is an IPv6 address.
    public var isIPv6: Bool {
        if case .v6 = ip { return true }
        return false
    }

    public var description: String {
        switch ip {
        case .v4(let value):
            return "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF):\(port)"
        case .v6(let high, let low):
            var groups: [String] = []
            for shift in stride(from: 48, through: 0, by: -16) {
                groups.append(String((high >> UInt64(shift)) & 0xFFFF, radix: 16))
            }
            for shift in stride(from: 48, through: 0, by: -16) {
                groups.append(String((low >> UInt64(shift)) & 0xFFFF, radix: 16))
            }
            return "[\(groups.joined(separator: ":"))]:\(port)"
        }
    }
}
