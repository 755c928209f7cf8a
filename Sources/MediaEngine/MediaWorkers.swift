// The worker pool for media: one MediaLoopGroup, one loop per thread. Each loop
// measures its own thread's CPU time (CLOCK_THREAD_CPUTIME_ID) four times a second, so admission
// control knows how busy each loop really is. A new call goes to the loop with the fewest calls
// among those under the configured load; when every loop is over it, the call is refused (503)
// so the calls already on the loops keep their packets.

import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public final class MediaWorkers: Sendable {
    public let group: MediaLoopGroup
    private let loops: [MediaLoop]
    /// Per loop: smoothed CPU share (0-1) and calls pinned to it.
    private let state: Mutex<[(load: Double, calls: Int)]>
    private let sampling: Mutex<[RepeatedTask]>
    private let lastSample: Mutex<[(Int64, NIODeadline)?]>

    /// Media on the loops of `group` (the node's one worker pool).
    public init(group: MediaLoopGroup) {
        self.group = group
        loops = group.loops
        state = Mutex(Array(repeating: (0, 0), count: loops.count))
        sampling = Mutex([])
        lastSample = Mutex(Array(repeating: nil, count: loops.count))
        for (index, loop) in loops.enumerated() { startSampling(loop, index: index) }
    }

    public var count: Int { loops.count }

    /// Each loop's CPU share (0-1, smoothed over about a second) and its calls.
    public var loads: [(load: Double, calls: Int)] { state.withLock { $0 } }

    /// Pins a new call to the loop with the fewest calls among those under `maxLoad` (the less
    /// busy one on a tie), or returns nil when every loop is over it. Calls are spread by count
    /// because the measured load lags by about a second: calls set up together would otherwise
    /// all land on whichever loop looked idle when they came.
    public func admit(maxLoad: Double) -> (index: Int, loop: MediaLoop)? {
        state.withLock { state -> (Int, MediaLoop)? in
            guard let best = state.indices.filter({ state[$0].load <= maxLoad })
                .min(by: { (state[$0].calls, state[$0].load) < (state[$1].calls, state[$1].load) })
            else { return nil }
            state[best].calls += 1
            return (best, loops[best])
        }
    }

    /// A call pinned by `admit` has ended.
    public func release(_ index: Int) {
        state.withLock { state in
            if state.indices.contains(index) { state[index].calls = max(0, state[index].calls - 1) }
        }
    }

    /// Stops measuring (the group belongs to its creator).
    public func stop() {
        for task in sampling.withLock({ $0 }) { task.cancel() }
    }

    private func startSampling(_ loop: MediaLoop, index: Int) {
        let interval = TimeAmount.milliseconds(250)
        let task = loop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { [weak self] _ in
            guard let self else { return }
            let cpu = Self.threadCPUTime()
            let wall = NIODeadline.now()
            guard let previous = self.lastSample.withLock({ $0[index] }) else {
                self.lastSample.withLock { $0[index] = (cpu, wall) }
                return
            }
            let share = Double(cpu - previous.0) / Double(max(1, (wall - previous.1).nanoseconds))
            self.state.withLock { state in state[index].load = state[index].load * 0.75 + min(1, max(0, share)) * 0.25 }
            self.lastSample.withLock { $0[index] = (cpu, wall) }
        }
        sampling.withLock { $0.append(task) }
    }

    /// Nanoseconds of CPU the calling thread has used.
    static func threadCPUTime() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
