// The media worker's event loop: one thread, one epoll set, and nothing between a readable
// socket and the leg that reads it. It is an NIO `EventLoop` (futures, `submit`, `execute` and
// scheduled tasks work as on any loop), but it watches raw descriptors itself: a media socket is
// read with recvmmsg into the loop's one receive batch, so a datagram costs no channel pipeline,
// no envelope, no buffer allocation and no address formatting on its way in, and a wake-up that
// finds several sockets ready serves them all before sleeping again. The time is read once per
// wake-up (`wakeTime`), for every packet that wake-up handles.
//
// State is confined to the loop's thread; only the queue of tasks handed in from other threads is
// behind a lock (taken by signaling at call set-up and tear-down, never per packet).

#if canImport(Glibc)
import Glibc
#endif
import CTandemShims
import Dispatch
import HeapModule
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Something that reads a descriptor on a media loop when epoll says it is readable.
protocol MediaReadable: AnyObject {
    func readable()
}

public final class MediaLoop: EventLoop, @unchecked Sendable {
    /// The loop's number in its group (for the thread's name and the worker figures).
    public let index: Int
    private let epoll: CInt
    private let wake: CInt
    private var thread = pthread_t()
    private let started = ConditionLock(value: false)
    private let queue = NIOLockedValueBox(TaskQueue())
    /// Set, under the queue's lock, once the thread has left its loop for good.
    private let stopped = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let timerIDs = Atomic<UInt64>(0)
    private let finished = ConditionLock(value: false)

    // Confined to the loop's thread.
    private var timers = Heap<LoopTimerEntry>()
    private var timerTasks: [UInt64: (_ cancelled: Bool) -> Void] = [:]
    private var readers: [MediaReadable?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int] = []
    private var pollers: [Int64: MediaPoller] = [:]
    /// When the current wake-up began: the time every packet of that wake-up is handled at.
    private(set) var wakeTime = NIODeadline.now()

    private static let wakeToken = UInt64.max
    private static let maxEvents = 64
    private let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: MediaLoop.maxEvents)

    /// One receive batch for every socket of the loop (they are read one after another).
    static let batchSize = 16
    static let datagramCapacity = 2048
    let batch: UnsafeMutablePointer<tandem_datagram>
    private let batchStorage: UnsafeMutableRawPointer

    /// Starts the loop's thread.
    public init(index: Int = 0) throws {
        let epoll = tandem_epoll_create()
        guard epoll >= 0 else { throw MediaSocketError(description: "cannot create an epoll set: \(String(cString: strerror(errno)))") }
        let wake = tandem_eventfd_create()
        guard wake >= 0 else {
            Glibc.close(epoll)
            throw MediaSocketError(description: "cannot create an eventfd: \(String(cString: strerror(errno)))")
        }
        guard tandem_epoll_add_token(epoll, wake, Self.wakeToken) == 0 else {
            Glibc.close(epoll)
            Glibc.close(wake)
            throw MediaSocketError(description: "cannot watch the loop's eventfd: \(String(cString: strerror(errno)))")
        }
        self.index = index
        self.epoll = epoll
        self.wake = wake
        batchStorage = UnsafeMutableRawPointer.allocate(byteCount: Self.batchSize * Self.datagramCapacity, alignment: 16)
        batch = UnsafeMutablePointer<tandem_datagram>.allocate(capacity: Self.batchSize)
        for slot in 0..<Self.batchSize {
            batch[slot] = tandem_datagram(buffer: batchStorage + slot * Self.datagramCapacity, capacity: Self.datagramCapacity,
                                          length: 0, source: sockaddr_storage(), source_length: 0)
        }
        let context = Unmanaged.passRetained(self).toOpaque()
        var created = pthread_t()
        let result = pthread_create(&created, nil, { context in
            let loop = Unmanaged<MediaLoop>.fromOpaque(context!).takeRetainedValue()
            loop.run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<MediaLoop>.fromOpaque(context).release()
            throw MediaSocketError(description: "cannot start a media thread: \(String(cString: strerror(result)))")
        }
        // The thread records its own id before anyone can ask `inEventLoop`.
        started.lock(whenValue: true)
        started.unlock()
    }

    deinit {
        Glibc.close(epoll)
        Glibc.close(wake)
        tokens.deallocate()
        batch.deallocate()
        batchStorage.deallocate()
    }

    // MARK: EventLoop

    /// On the loop's thread; or anywhere once the loop has stopped (see `execute`).
    public var inEventLoop: Bool { pthread_equal(pthread_self(), thread) != 0 || stopped.load(ordering: .acquiring) }

    public func execute(_ task: @escaping @Sendable () -> Void) {
        let (first, runNow) = queue.withLockedValue { queue -> (Bool, Bool) in
            if queue.stopped { return (false, true) }
            queue.tasks.append(task)
            return (queue.tasks.count == 1, false)
        }
        // A stopped loop has no state left to guard and no thread to run on: what it is handed
        // runs at once, so that a future completed at the stop can still be waited for (NIO
        // hands a callback added to a completed future to its loop).
        if runNow { return task() }
        // The loop looks at the queue before it sleeps: only a task from another thread that
        // finds the queue empty needs to wake it.
        if first && !inEventLoop { tandem_eventfd_signal(wake) }
    }

    public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise: EventLoopPromise<T> = makePromise()
        let id = timerIDs.add(1, ordering: .relaxed).newValue
        let run: (Bool) -> Void = { cancelled in
            if cancelled { return promise.fail(EventLoopError.cancelled) }
            // The task runs on the loop, where the promise is completed.
            do { promise.assumeIsolatedUnsafeUnchecked().succeed(try task()) } catch { promise.fail(error) }
        }
        nonisolated(unsafe) let unsafeRun = run
        if inEventLoop {
            add(timer: id, at: deadline, run: run)
        } else {
            execute { self.add(timer: id, at: deadline, run: unsafeRun) }
        }
        return Scheduled(promise: promise) { [weak self] in
            guard let self else { return }
            if self.inEventLoop { self.cancel(timer: id) } else { self.execute { self.cancel(timer: id) } }
        }
    }

    public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    public func shutdownGracefully(queue callbackQueue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        requestStop()
        callbackQueue.async {
            self.waitUntilFinished()
            callback(nil)
        }
    }

    /// Stops the loop and waits for its thread (not on the loop itself).
    public func shutdown() async {
        requestStop()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.waitUntilFinished()
                continuation.resume()
            }
        }
    }

    /// Blocks until the loop's thread has left its loop.
    func waitUntilFinished() {
        finished.lock(whenValue: true)
        finished.unlock()
    }

    private func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        tandem_eventfd_signal(wake)
    }

    // MARK: Descriptors (on the loop)

    /// Reads `descriptor` through `reader` from now on; returns a token for `unwatch`, or nil
    /// when epoll refuses it.
    func watch(_ descriptor: CInt, _ reader: MediaReadable) -> UInt64? {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            readers[slot] = reader
        } else {
            slot = readers.count
            readers.append(reader)
            generations.append(0)
        }
        let token = UInt64(generations[slot]) << 32 | UInt64(slot)
        guard tandem_epoll_add_token(epoll, descriptor, token) == 0 else {
            release(slot)
            return nil
        }
        return token
    }

    /// Stops reading `descriptor`; a readiness already reported for it in this wake-up is ignored.
    func unwatch(_ descriptor: CInt, token: UInt64) {
        tandem_epoll_remove(epoll, descriptor)
        let slot = Int(token & 0xFFFF_FFFF)
        guard slot < readers.count, UInt64(generations[slot]) == token >> 32 else { return }
        release(slot)
    }

    private func release(_ slot: Int) {
        readers[slot] = nil
        generations[slot] &+= 1
        freeSlots.append(slot)
    }

    /// The loop's poller for sockets read every `interval` (see `MediaPoller`); on the loop.
    func poller(every interval: TimeAmount) -> MediaPoller? {
        if let poller = pollers[interval.nanoseconds] { return poller }
        guard let poller = MediaPoller(eventLoop: self, interval: interval) else { return nil }
        pollers[interval.nanoseconds] = poller
        return poller
    }

    // MARK: The loop

    private func run() {
        thread = pthread_self()
        tandem_set_thread_name("tandem-media-\(index)")
        started.lock()
        started.unlock(withValue: true)

        while !stopRequested.load(ordering: .acquiring) {
            let ready = tandem_epoll_wait_tokens(epoll, tokens, CInt(Self.maxEvents), timeout())
            wakeTime = .now()
            if ready > 0 {
                for index in 0..<Int(ready) {
                    let token = tokens[index]
                    if token == Self.wakeToken {
                        tandem_eventfd_drain(wake)
                        continue
                    }
                    let slot = Int(token & 0xFFFF_FFFF)
                    guard slot < readers.count, UInt64(generations[slot]) == token >> 32, let reader = readers[slot] else { continue }
                    reader.readable()
                }
            }
            runTimers()
            runQueue()
        }
        // Stopped: what is queued still runs (it may complete promises), scheduled tasks are
        // cancelled, and every descriptor still watched is let go.
        runQueue()
        for (_, run) in timerTasks { run(true) }
        timerTasks = [:]
        readers = []
        pollers = [:]
        // From here on tasks run where they are handed in; the last ones that came before that
        // run now.
        let late = queue.withLockedValue { queue -> [@Sendable () -> Void] in
            queue.stopped = true
            stopped.store(true, ordering: .releasing)
            defer { queue.tasks = [] }
            return queue.tasks
        }
        for task in late { task() }
        finished.lock()
        finished.unlock(withValue: true)
    }

    /// Milliseconds epoll may sleep: none with tasks queued, until the next timer otherwise
    /// (rounded up, so a timer is never found not yet due), and without limit when nothing is.
    private func timeout() -> CInt {
        if !queue.withLockedValue({ $0.tasks.isEmpty }) { return 0 }
        guard let next = timers.min else { return -1 }
        let remaining = (next.deadline - .now()).nanoseconds
        guard remaining > 0 else { return 0 }
        return CInt(min((remaining + 999_999) / 1_000_000, 60_000))
    }

    private func runTimers() {
        while let next = timers.min, next.deadline <= wakeTime {
            timers.removeMin()
            if let run = timerTasks.removeValue(forKey: next.id) { run(false) }
        }
        // Cancelled timers leave their entries behind: drop them when they outnumber the live ones.
        if timers.count > 64 && timers.count > 2 * timerTasks.count { timers = Heap(timers.unordered.filter { timerTasks[$0.id] != nil }) }
    }

    private func runQueue() {
        let tasks = queue.withLockedValue { queue -> [@Sendable () -> Void] in
            defer { queue.tasks.removeAll(keepingCapacity: true) }
            return queue.tasks
        }
        for task in tasks { task() }
    }

    /// Runs `fire` at `deadline` (on the loop, from the loop): a leg's timer, with no promise
    /// behind it. Returns an id for `cancelTimer`.
    func schedule(at deadline: NIODeadline, _ fire: @escaping () -> Void) -> UInt64 {
        let id = timerIDs.add(1, ordering: .relaxed).newValue
        add(timer: id, at: deadline) { cancelled in if !cancelled { fire() } }
        return id
    }

    /// Cancels a timer `schedule(at:)` set, if it has not fired (on the loop).
    func cancelTimer(_ id: UInt64) { timerTasks.removeValue(forKey: id) }

    private func add(timer id: UInt64, at deadline: NIODeadline, run: @escaping (Bool) -> Void) {
        if stopRequested.load(ordering: .acquiring) { return run(true) }
        timerTasks[id] = run
        timers.insert(LoopTimerEntry(deadline: deadline, id: id))
    }

    private func cancel(timer id: UInt64) {
        timerTasks.removeValue(forKey: id)?(true)
    }
}

/// The loops of the media worker pool, one thread each.
public final class MediaLoopGroup: EventLoopGroup, @unchecked Sendable {
    public let loops: [MediaLoop]
    private let cursor = Atomic<Int>(0)

    public init(threads: Int) throws {
        loops = try (0..<max(1, threads)).map { try MediaLoop(index: $0) }
    }

    public func next() -> any EventLoop { loops[cursor.add(1, ordering: .relaxed).oldValue % loops.count] }

    public func makeIterator() -> EventLoopIterator { EventLoopIterator(loops) }

    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        for loop in loops { loop.shutdownGracefully(queue: queue) { _ in } }
        queue.async {
            for loop in self.loops { loop.waitUntilFinished() }
            callback(nil)
        }
    }

    /// Stops every loop and waits for their threads.
    public func shutdown() async {
        for loop in loops { await loop.shutdown() }
    }
}

/// Tasks handed to a loop from other threads, and whether it still takes them.
private struct TaskQueue {
    var tasks: [@Sendable () -> Void] = []
    var stopped = false
}

/// A timer of the loop: due at `deadline`; ties are broken by the order they came in.
struct LoopTimerEntry: Comparable {
    var deadline: NIODeadline
    var id: UInt64

    static func < (a: LoopTimerEntry, b: LoopTimerEntry) -> Bool { (a.deadline, a.id) < (b.deadline, b.id) }
}
