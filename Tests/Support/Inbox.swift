// Test support: time-bounded hand-off of what a test client's channel handler receives.

import NIOCore

public struct TestTimeout: Error, CustomStringConvertible {
    public var what: String
    public init(what: String) { self.what = what }
    public var description: String { "timed out waiting for \(what)" }
}

/// Items a test client's handler received, handed out in order. Touched only on its event loop.
public final class Inbox<Item: Sendable>: @unchecked Sendable {
    private let eventLoop: any EventLoop
    private var items: [Item] = []
    private var waiters: [EventLoopPromise<Item>] = []

    public init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    public func push(_ item: Item) {
        eventLoop.preconditionInEventLoop()
        if waiters.isEmpty { items.append(item) } else { waiters.removeFirst().succeed(item) }
    }

    public func next(timeout: TimeAmount = .seconds(5)) async throws -> Item {
        let loop = eventLoop
        return try await loop.flatSubmit { () -> EventLoopFuture<Item> in
            if !self.items.isEmpty { return loop.makeSucceededFuture(self.items.removeFirst()) }
            let promise = loop.makePromise(of: Item.self)
            self.waiters.append(promise)
            loop.scheduleTask(in: timeout) { promise.fail(TestTimeout(what: "\(Item.self)")) }
            return promise.futureResult
        }.get()
    }
}

/// Pushes everything a test client reads into an inbox.
public final class InboxHandler<Item: Sendable>: ChannelInboundHandler {
    public typealias InboundIn = Item
    let inbox: Inbox<Item>

    public init(_ inbox: Inbox<Item>) { self.inbox = inbox }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inbox.push(unwrapInboundIn(data))
    }
}
