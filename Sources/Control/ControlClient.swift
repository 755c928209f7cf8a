// tandemctl's end of the control socket: a blocking Unix-domain client with a timeout. Kept
// free of event loops so the CLI starts instantly.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Why a control request failed, in words an operator can act on.
public struct ControlClientError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case notRunning
        case permissionDenied
        case timeout
        case protocolError
    }

    public var kind: Kind
    public var description: String
}

public struct ControlClient: Sendable {
    /// The system daemon's socket (see `ControlSocketLocation` for where else tandemctl looks).
    public static let defaultSocketPath = ControlSocketLocation.systemPath

    public var path: String
    public var timeout: Duration

    public init(path: String, timeout: Duration = .seconds(5)) {
        self.path = path
        self.timeout = timeout
    }

    /// Whether something accepts connections on `path` now.
    public static func isAnswering(path: String) -> Bool {
        guard let fd = try? connect(path: path) else { return false }
        close(fd)
        return true
    }

    /// Sends one request and waits for its response.
    public func send(_ request: ControlRequest) throws(ControlClientError) -> ControlResponse {
        let fd = try Self.connect(path: path)
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))

        guard var payload = try? ControlProtocol.encoder().encode(request) else {
            throw ControlClientError(kind: .protocolError, description: "cannot encode request")
        }
        payload.append(UInt8(ascii: "\n"))
        let sent = payload.withUnsafeBytes { raw in Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)) }
        guard sent == payload.count else {
            throw ControlClientError(kind: .protocolError, description: "cannot send to \(path): \(String(cString: strerror(errno)))")
        }

        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !received.contains(UInt8(ascii: "\n")) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                received.append(contentsOf: chunk[0..<n])
            } else if n == 0 {
                break
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                throw ControlClientError(kind: .timeout, description: "tandemd did not answer on \(path) within \(timeout)")
            } else if errno != EINTR {
                throw ControlClientError(kind: .protocolError, description: "cannot read from \(path): \(String(cString: strerror(errno)))")
            }
        }
        guard let end = received.firstIndex(of: UInt8(ascii: "\n")),
            let response = try? ControlProtocol.decoder().decode(ControlResponse.self, from: Data(received[..<end]))
        else {
            throw ControlClientError(kind: .protocolError, description: "tandemd sent a response this tandemctl cannot read")
        }
        return response
    }

    private static func connect(path: String) throws(ControlClientError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw ControlClientError(kind: .protocolError, description: "cannot create a socket: \(String(cString: strerror(errno)))")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            close(fd)
            throw ControlClientError(kind: .protocolError, description: "socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            switch code {
            case ENOENT, ECONNREFUSED:
                throw ControlClientError(kind: .notRunning, description: "tandemd is not running (nothing answers on \(path))")
            case EACCES, EPERM:
                throw ControlClientError(
                    kind: .permissionDenied,
                    description: "permission denied on \(path): run as root or as a member of the tandem group")
            default:
                throw ControlClientError(kind: .notRunning, description: "cannot connect to \(path): \(String(cString: strerror(code)))")
            }
        }
        return fd
    }
}
