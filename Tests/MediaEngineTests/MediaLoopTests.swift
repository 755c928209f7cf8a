// The media loop as an event loop and as a reader of raw sockets: tasks from other threads run
// in order on the loop's thread, scheduled tasks fire in deadline order and not when cancelled,
// futures complete, a watched socket's datagrams reach its reader through recvmmsg, and a loop
// that stops cancels what was scheduled and lets its thread go.

import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

@testable import MediaEngine

final class MediaLoopTests: XCTestCase {
    func testTasksFromOtherThreadsRunInOrderOnTheLoop() async throws {
        let loop = try MediaLoop()
        let recorded = NIOLockedValueBox<[Int]>([])
        for value in 0..<100 { loop.execute { recorded.withLockedValue { $0.append(value) } } }
        let onLoop = try await loop.submit { loop.inEventLoop }.get()
        XCTAssertTrue(onLoop)
        XCTAssertEqual(recorded.withLockedValue { $0 }, Array(0..<100))
        XCTAssertFalse(loop.inEventLoop)
        await loop.shutdown()
    }

    func testScheduledTasksFireByDeadlineAndCancelledOnesDoNot() async throws {
        let loop = try MediaLoop()
        let fired = NIOLockedValueBox<[String]>([])
        let now = NIODeadline.now()
        let late = loop.scheduleTask(deadline: now + .milliseconds(60)) { fired.withLockedValue { $0.append("late") } }
        let cancelled = loop.scheduleTask(deadline: now + .milliseconds(30)) { fired.withLockedValue { $0.append("cancelled") } }
        let early = loop.scheduleTask(deadline: now + .milliseconds(10)) { fired.withLockedValue { $0.append("early") } }
        cancelled.cancel()
        try await early.futureResult.get()
        try await late.futureResult.get()
        do {
            try await cancelled.futureResult.get()
            XCTFail("a cancelled task's future fails")
        } catch let error as EventLoopError {
            XCTAssertEqual(error, .cancelled)
        }
        XCTAssertEqual(fired.withLockedValue { $0 }, ["early", "late"])
        XCTAssertGreaterThanOrEqual(NIODeadline.now(), now + .milliseconds(60), "nothing fires before its deadline")
        await loop.shutdown()
    }

    func testAWatchedSocketsDatagramsReachItsHandlerAndStopAfterClose() async throws {
        let loop = try MediaLoop()
        let received = NIOLockedValueBox<[[UInt8]]>([])
        let socket = try await MediaSocket.bind(address: "127.0.0.1", port: 0, on: loop) { bytes, _ in
            received.withLockedValue { $0.append(bytes) }
        }
        let port = try XCTUnwrap(socket.localAddress?.port)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let sender = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let destination = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        // A burst: several datagrams queued before the loop reads them come in one recvmmsg.
        for index in 0..<40 {
            try await sender.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: ByteBuffer(bytes: [UInt8(index), 1, 2]))).get()
        }
        for _ in 0..<200 where received.withLockedValue({ $0.count }) < 40 { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(received.withLockedValue { $0.map(\.first!) }, (0..<40).map(UInt8.init))
        await socket.close()
        try await sender.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: ByteBuffer(bytes: [99]))).get()
        try await Task.sleep(for: .milliseconds(50))
        XCTAssertEqual(received.withLockedValue { $0.count }, 40, "a closed socket delivers nothing")
        try await sender.close()
        try await group.shutdownGracefully()
        await loop.shutdown()
    }

    func testAStoppedLoopCancelsWhatWasScheduled() async throws {
        let loop = try MediaLoop()
        let pending = loop.scheduleTask(in: .seconds(60)) {}
        _ = try await loop.submit {}.get()  // the timer is in the loop's heap
        await loop.shutdown()
        do {
            try await pending.futureResult.get()
            XCTFail("a task scheduled past the stop does not run")
        } catch let error as EventLoopError {
            XCTAssertEqual(error, .cancelled)
        }
    }
}
