import Logging
import NIOCore
import NIOPosix
import SIPTransport
import XCTest

final class ListenerGroupTests: XCTestCase {
    func testBindsEveryListenerOnFreePortsAndReportsThem() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listeners = try await SIPListenerGroup.bind(
            [SIPListenerSpec(transport: .udp, address: "127.0.0.1", port: 0),
             SIPListenerSpec(transport: .tcp, address: "127.0.0.1", port: 0)],
            group: group, logger: Logger(label: "test"))
        XCTAssertEqual(listeners.bound.map(\.transport), [.udp, .tcp])
        XCTAssertTrue(listeners.bound.allSatisfy { $0.port > 0 })
        await listeners.close()
        try await group.shutdownGracefully()
    }

    func testAllOrNothingWhenOneListenerCannotBind() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let first = try await SIPListenerGroup.bind(
            [SIPListenerSpec(transport: .tcp, address: "127.0.0.1", port: 0)], group: group, logger: Logger(label: "test"))
        let taken = first.bound[0].port
        do {
            _ = try await SIPListenerGroup.bind(
                [SIPListenerSpec(transport: .udp, address: "127.0.0.1", port: 0),
                 SIPListenerSpec(transport: .tcp, address: "127.0.0.1", port: taken)],
                group: group, logger: Logger(label: "test"))
            XCTFail("bound a port that is in use")
        } catch {
            XCTAssertTrue("\(error)".hasPrefix("cannot bind TCP listener on 127.0.0.1:\(taken)"), "\(error)")
        }
        await first.close()
        try await group.shutdownGracefully()
    }
}
