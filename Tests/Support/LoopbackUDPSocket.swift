// Test support: a blocking UDP socket on a loopback address (any port), for peers and for holding
// or finding free ports in tests. Loopback only.

#if canImport(Glibc)
import Glibc
#endif

public final class LoopbackUDPSocket: @unchecked Sendable {  // one reader at a time
    public let fd: Int32
    public let port: Int
    private var lastSource = sockaddr_in()

    /// Binds `address` (127.0.0.1 by default; any 127/8 address works on Linux) on a free port.
    public init(address: String = "127.0.0.1", receiveTimeout seconds: Int = 3) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(address)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        port = Int(UInt16(bigEndian: local.sin_port))
        setReceiveTimeout(microseconds: seconds * 1_000_000)
    }

    deinit { close(fd) }

    public func setReceiveTimeout(microseconds: Int) {
        var timeout = timeval(tv_sec: microseconds / 1_000_000, tv_usec: microseconds % 1_000_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends to 127.0.0.1:`port`.
    public func send(_ bytes: [UInt8], toPort port: Int) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        send(bytes, to: address)
    }

    /// Sends back to the source of the last datagram received.
    public func reply(_ bytes: [UInt8]) { send(bytes, to: lastSource) }

    private func send(_ bytes: [UInt8], to address: sockaddr_in) {
        var address = address
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, target, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    /// The next datagram, or nil on timeout.
    public func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &lastSource) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length) }
            }
        }
        return n > 0 ? Array(buffer[0..<n]) : nil
    }

    /// A port that was free a moment ago (the socket is closed again at once).
    public static func freePort() -> Int { LoopbackUDPSocket().port }
}
