// Helpers for the loopback tests: time-bounded waits for transport events and for what a test
// client receives. Every wait gives up after a few seconds so a broken transport fails, not hangs.

import Foundation
import Logging
import NIOCore
import NIOPosix
import SIPTransport
import TandemTestSupport
import XCTest

/// Drains a layer's events in the background so a test can take them one at a time.
actor EventCollector {
    private var events: [SIPTransportEvent] = []
    private var finished = false

    init(_ layer: SIPTransportLayer) {
        let stream = layer.events
        Task { await self.run(stream) }
    }

    private func run(_ stream: AsyncStream<SIPTransportEvent>) async {
        for await event in stream { events.append(event) }
        finished = true
    }

    func next(timeout: Duration = .seconds(5)) async throws -> SIPTransportEvent {
        let deadline = ContinuousClock.now + timeout
        while events.isEmpty {
            guard ContinuousClock.now < deadline, !finished else { throw TestTimeout(what: "a transport event") }
            try await Task.sleep(for: .milliseconds(5))
        }
        return events.removeFirst()
    }

    func nextMessage(timeout: Duration = .seconds(5)) async throws -> InboundSIPMessage {
        let event = try await next(timeout: timeout)
        guard case .message(let message) = event else { throw TestTimeout(what: "a message, got \(event)") }
        return message
    }

    /// Waits a little and reports whether any message arrived (connection ends do not count).
    func noMessages(for duration: Duration = .milliseconds(300)) async throws -> Bool {
        try await Task.sleep(for: duration)
        return !events.contains { if case .message = $0 { return true } else { return false } }
    }
}

/// A plain TCP client whose reads land in an inbox.
struct StreamTestClient {
    let channel: any Channel
    let inbox: Inbox<ByteBuffer>

    static func connect(to address: SocketAddress, group: any EventLoopGroup) async throws -> StreamTestClient {
        let loop = group.next()
        let inbox = Inbox<ByteBuffer>(eventLoop: loop)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboxHandler<ByteBuffer>(inbox))
                }
            }
            .connect(to: address).get()
        return StreamTestClient(channel: channel, inbox: inbox)
    }

    func write(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
    }

    /// Reads until exactly `count` bytes have arrived.
    func read(count: Int) async throws -> String {
        var received = ByteBuffer()
        while received.readableBytes < count {
            var chunk = try await inbox.next()
            received.writeBuffer(&chunk)
        }
        return String(buffer: received)
    }

    /// Reads until the server closes the connection; returns everything received.
    func readToClose() async throws -> String {
        try await waitForClose(channel)
        var received = ByteBuffer()
        while var chunk = try? await inbox.next(timeout: .milliseconds(50)) { received.writeBuffer(&chunk) }
        return String(buffer: received)
    }
}

func waitForClose(_ channel: any Channel, timeout: TimeAmount = .seconds(5)) async throws {
    let promise = channel.eventLoop.makePromise(of: Void.self)
    promise.completeWith(channel.closeFuture)
    channel.eventLoop.scheduleTask(in: timeout) { promise.fail(TestTimeout(what: "the connection to close")) }
    try await promise.futureResult.get()
}

func testLogger() -> Logger {
    var logger = Logger(label: "tandem.test.sip-transport")
    logger.logLevel = ProcessInfo.processInfo.environment["TANDEM_TEST_LOG"] == nil ? .critical : .trace
    return logger
}

func loopback(_ port: Int) throws -> SocketAddress { try SocketAddress(ipAddress: "127.0.0.1", port: port) }

func sipMessage(_ method: String = "OPTIONS", transport: String = "TCP", body: String = "") -> String {
    "\(method) sip:gw.example.com SIP/2.0\r\n"
        + "Via: SIP/2.0/\(transport) 127.0.0.1;branch=z9hG4bK-\(method.lowercased())\r\n"
        + "Call-ID: test-\(method.lowercased())\r\n"
        + "CSeq: 1 \(method)\r\n"
        + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
}
