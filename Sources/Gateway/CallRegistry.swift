// The node's table of live calls: admission (new calls are refused while draining or over a
// limit), and the drain that SIGTERM starts: stop admitting, wait for calls to end by themselves
// up to a deadline, then end the rest. Cross-call state lives here and is reached by message
// (an actor), never shared by mutation; per-call state lives on the call's event loop.

import Logging

/// A live call, as the registry sees it.
public protocol RegisteredCall: Sendable {
    /// The call's identifier (the B2BUA's own Call-ID on the WebRTC side, for logs and CLI).
    var id: String { get }
    /// Ends the call now (BYE or CANCEL on both legs) with the given reason text.
    func end(reason: String) async
}

/// Whether a new call may start.
public enum AdmissionDecision: Sendable, Equatable {
    case admitted
    /// Refused: the SIP response code to send and a reason phrase (503 while draining).
    case refused(status: Int, reason: String)
}

/// What a drain did.
public struct DrainOutcome: Sendable, Equatable {
    /// Calls that ended by themselves during the drain.
    public var endedNaturally: Int
    /// Calls still up at the deadline, ended by the gateway.
    public var endedByDeadline: Int

    public init(endedNaturally: Int, endedByDeadline: Int) {
        self.endedNaturally = endedNaturally
        self.endedByDeadline = endedByDeadline
    }
}

/// The registry's lifecycle.
public enum GatewayState: String, Sendable, Codable {
    case running
    case draining
}

public actor CallRegistry {
    private var calls: [String: any RegisteredCall] = [:]
    private var emptyWaiters: [CheckedContinuation<Void, Never>] = []
    private var maxCalls: Int
    private var endedDuringDrain = 0
    public private(set) var state: GatewayState = .running

    /// - Parameter maxCalls: the admission limit; 0 means no limit.
    public init(maxCalls: Int = 0) {
        self.maxCalls = maxCalls
    }

    public var activeCalls: Int { calls.count }

    public func setMaxCalls(_ limit: Int) { maxCalls = limit }

    /// Decides whether `call` may start, and records it if so.
    public func admit(_ call: any RegisteredCall) -> AdmissionDecision {
        if state == .draining { return .refused(status: 503, reason: "Service Unavailable (draining)") }
        if maxCalls > 0 && calls.count >= maxCalls { return .refused(status: 503, reason: "Service Unavailable (call limit)") }
        calls[call.id] = call
        return .admitted
    }

    /// Forgets a call that has ended.
    public func remove(id: String) {
        guard calls.removeValue(forKey: id) != nil else { return }
        if state == .draining { endedDuringDrain += 1 }
        if calls.isEmpty { wakeEmptyWaiters() }
    }

    /// Stops admitting calls, waits until every call has ended or `timeout` has passed, then
    /// ends whatever is left. Calling it again while a drain runs waits for the same calls.
    public func drain(timeout: Duration, logger: Logger) async -> DrainOutcome {
        state = .draining
        endedDuringDrain = 0
        if !calls.isEmpty {
            logger.notice("draining", metadata: ["calls": "\(calls.count)", "timeout": "\(timeout)"])
            await waitUntilEmpty(timeout: timeout)
        }
        let remaining = Array(calls.values)
        calls.removeAll()
        wakeEmptyWaiters()
        for call in remaining {
            logger.notice("ending call at drain deadline", metadata: ["call": "\(call.id)"])
            await call.end(reason: "SIP;cause=503;text=\"Gateway shutting down\"")
        }
        return DrainOutcome(endedNaturally: endedDuringDrain, endedByDeadline: remaining.count)
    }

    private func waitUntilEmpty(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForEmpty() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            // Whichever finished first, release the other: the sleeper by cancellation, the
            // empty-waiter by resuming it (it returns whether or not calls remain).
            group.cancelAll()
            wakeEmptyWaiters()
        }
    }

    private func waitForEmpty() async {
        if calls.isEmpty { return }
        await withCheckedContinuation { emptyWaiters.append($0) }
    }

    private func wakeEmptyWaiters() {
        let waiters = emptyWaiters
        emptyWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }
}
