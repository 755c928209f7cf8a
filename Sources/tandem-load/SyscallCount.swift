// TANDEM_LOAD_STRACE=1: system calls per relayed packet. `strace -c -f` is attached to the
// gateway for the measured window and counts its system calls by name (all threads); divided by
// the packets the far ends received in that window (both directions) it gives each design's
// calls per relayed packet: recvmmsg, sendmmsg and epoll_wait per packet are what batching and
// wake-ups decide. strace stops the traced process at every system call, so the CPU figures of
// a run it watches are far above the real ones: use it for the table, not for the comparison.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

let straceBinary = "/usr/bin/strace"

/// Runs `body` (a load run whose window opens 0.1 s + `warmup` after it starts and lasts
/// `seconds`), with strace counting `pid`'s system calls over that window when `enabled`, and
/// prints the per-packet table for `gateway`.
func countingSyscalls(of pid: Int32, gateway: String, enabled: Bool, warmup: Double, seconds: Double,
                      _ body: () throws -> LoadFigures) throws -> LoadFigures {
    guard enabled else { return try body() }
    guard FileManager.default.isExecutableFile(atPath: straceBinary) else {
        throw LoadError("TANDEM_LOAD_STRACE=1 needs \(straceBinary): apt-get install strace (scripts/install-deps.sh bench installs it)")
    }
    let output = NSTemporaryDirectory() + "tandem-load-strace-\(pid).txt"
    // Attached when the window opens, interrupted (it then detaches and writes its counts) when
    // it closes, from a thread of its own while this one runs the load.
    let done = StopFlag()
    let watcher = Thread {
        defer { done.set() }
        let strace = Process()
        strace.executableURL = URL(fileURLWithPath: straceBinary)
        strace.arguments = ["-c", "-f", "-S", "calls", "-o", output, "-p", "\(pid)"]
        strace.standardOutput = FileHandle.nullDevice
        strace.standardError = FileHandle.nullDevice
        // A child starts with its parent thread's signal mask, and this process's threads block
        // SIGINT: unblocked here, or strace could not be interrupted.
        var interrupt = sigset_t()
        sigemptyset(&interrupt)
        sigaddset(&interrupt, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &interrupt, nil)
        Thread.sleep(forTimeInterval: 0.1 + warmup)
        guard (try? strace.run()) != nil else { return }
        Thread.sleep(forTimeInterval: seconds)
        kill(strace.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(10)
        while strace.isRunning && Date() < deadline { usleep(20_000) }
        if strace.isRunning { kill(strace.processIdentifier, SIGKILL) }  // then there are no counts
    }
    watcher.name = "strace"
    watcher.start()
    let figures = try body()
    while !done.isSet { usleep(50_000) }
    defer { try? FileManager.default.removeItem(atPath: output) }
    let packets = figures.toTrunk.received + figures.toWeb.received
    guard let text = try? String(contentsOfFile: output, encoding: .utf8), packets > 0 else {
        show("    strace: no counts for \(gateway)")
        return figures
    }
    show("    \(gateway): system calls per relayed packet (strace -c -f over the \(Int(seconds)) s window, \(packets) packets relayed; strace's own cost is in this run's CPU figure):")
    show("    | system call | calls | per packet |")
    show("    |---|---|---|")
    for (name, calls) in straceCounts(text) {
        show("    | \(name) | \(calls) | " + String(format: "%.3f", Double(calls) / Double(packets)) + " |")
    }
    return figures
}

/// A line on stdout at once, as main's `say` writes it.
private func show(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// (name, calls) from strace -c's table, busiest first, `total` last. Its rows are: % time,
/// seconds, usecs/call, calls, errors (often empty), name.
func straceCounts(_ text: String) -> [(String, Int)] {
    text.split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        guard fields.count >= 5, Double(fields[0]) != nil, let calls = Int(fields[3]) else { return nil }
        return (String(fields[fields.count - 1]), calls)
    }
}
