// Plain POSIX UDP sockets on loopback and a monotonic clock: the load generator's packet path
// stays free of event loops and allocation-heavy layers, since it shares the machine with the
// gateway it measures.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct LoadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Monotonic nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Sleeps until a monotonic instant.
func sleep(until nanoseconds: Int64) {
    var target = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil) == EINTR {}
}

func loopbackAddress(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}

/// A UDP socket bound to 127.0.0.1 (port 0: the kernel picks one).
final class UDPSocket: @unchecked Sendable {
    let fd: Int32
    private(set) var port: UInt16

    init(port: UInt16 = 0, receiveBuffer: Int32 = 1 << 20) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        guard fd >= 0 else { throw LoadError("socket: errno \(errno)") }
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = loopbackAddress(port: port)
        self.port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw LoadError("bind 127.0.0.1:\(port): errno \(errno)")
        }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = UInt16(bigEndian: local.sin_port)
    }

    deinit { close(fd) }

    func setNonBlocking() { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }

    @inline(__always)
    func send(_ bytes: UnsafeRawBufferPointer, to address: sockaddr_in) {
        var address = address
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    func send(_ bytes: [UInt8], to address: sockaddr_in) { bytes.withUnsafeBytes { send($0, to: address) } }

    /// One datagram into `buffer`; returns its length and source port, or nil (nothing there).
    @inline(__always)
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> (length: Int, port: UInt16)? {
        var source = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let count = withUnsafeMutablePointer(to: &source) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, &length) }
        }
        guard count >= 0 else { return nil }
        return (count, UInt16(bigEndian: source.sin_port))
    }

    /// Waits up to `milliseconds` for a datagram; returns it and its source port.
    func receive(timeoutMilliseconds: Int32) -> (bytes: [UInt8], port: UInt16)? {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, timeoutMilliseconds) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 2048)
        guard let (length, port) = buffer.withUnsafeMutableBytes({ receive(into: $0) }) else { return nil }
        return (Array(buffer[0..<length]), port)
    }
}

/// A free UDP port on loopback (bound, read, released).
func freeUDPPort() throws -> UInt16 { try UDPSocket().port }

func freeTCPPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var local = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return UInt16(bigEndian: local.sin_port)
}

/// utime + stime of a process, and stime alone (time in the kernel: system calls, the network
/// stack, scheduling), in nanoseconds (from /proc/<pid>/stat, all threads).
func processCPUNanoseconds(pid: Int32) -> (total: Int64, kernel: Int64)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return nil }
    // Fields after the command: state is field 3; utime and stime are fields 14 and 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Int64(fields[11]), let system = Int64(fields[12]) else { return nil }
    let ticks = Int64(sysconf(Int32(_SC_CLK_TCK)))
    return ((user + system) * 1_000_000_000 / ticks, system * 1_000_000_000 / ticks)
}

func ownCPUNanoseconds() -> Int64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000_000
        + Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000
}
