// sd_notify(3) without libsystemd: datagrams to $NOTIFY_SOCKET (a path, or an abstract socket
// when it starts with '@'). READY=1 is sent only once every listener is bound; RELOADING=1 and
// STOPPING=1 bracket reloads and shutdown; WATCHDOG=1 keeps a WatchdogSec= unit alive.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct SystemdNotifier: Sendable {
    let socketPath: String?

    init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"]
        socketPath = (path?.isEmpty ?? true) ? nil : path
    }

    var isEnabled: Bool { socketPath != nil }

    /// Sends `state` (newline-separated `KEY=value` assignments). Failures are ignored, as
    /// sd_notify's callers do: the daemon works the same without a supervisor.
    func notify(_ state: String) {
        guard let socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1))
        let payload = Array(state.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress, length) }
            }
        }
    }

    /// The interval at which WATCHDOG=1 must be sent, when systemd asks for it for this process.
    static func watchdogInterval(environment: [String: String]) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = Int64(text), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], let expected = Int32(pid), expected != getpid() { return nil }
        return .microseconds(usec)
    }

    /// CLOCK_MONOTONIC in microseconds, for RELOADING=1's MONOTONIC_USEC.
    static func monotonicMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }
}

// MARK: - Stop timeout during a drain

/// A drain can outlast the unit's TimeoutStopSec= (90 s in systemd/tandem.service; drain_timeout
/// may be up to an hour). While it lasts, EXTEND_TIMEOUT_USEC= (systemd 236 and later; older
/// versions ignore it) asks systemd for the drain time still left plus `margin`, re-sent every
/// `interval`: systemd gives up only if a whole extension passes without the next one.
struct StopTimeoutExtension: Sendable {
    /// Time after the drain deadline for ending the calls left and closing the listeners.
    static let margin: Duration = .seconds(30)
    /// How often the extension is re-sent; well inside `margin`, so one late message is harmless.
    static let interval: Duration = .seconds(5)

    /// The assignment asking for `remaining` drain time plus the margin.
    static func assignment(remaining: Duration) -> String {
        let total = max(remaining, .zero) + margin
        return "EXTEND_TIMEOUT_USEC=\(total.components.seconds * 1_000_000 + total.components.attoseconds / 1_000_000_000_000)"
    }

    /// Sends the extension now and every `interval` until the drain ends (the caller cancels the
    /// task) or its deadline plus the margin has passed. Nil when no supervisor listens.
    static func start(notifier: SystemdNotifier, drainTimeout: Duration) -> Task<Void, Never>? {
        guard notifier.isEnabled else { return nil }
        let clock = ContinuousClock()
        let deadline = clock.now + drainTimeout
        notifier.notify(assignment(remaining: drainTimeout))
        return Task {
            while clock.now < deadline + margin {
                do { try await clock.sleep(for: interval) } catch { return }
                notifier.notify(assignment(remaining: deadline - clock.now))
            }
        }
    }
}
