// Loopback tests of the SIP transport layer with real sockets: all-or-nothing binding, UDP in and
// out, TCP in with replies on the connection, keep-alives, connection ends, a bad peer losing only
// its own connection, and outbound TCP/TLS connections that are reused.

import Foundation
import NIOCore
import NIOPosix
import SIP
import SIPTransport
import TandemTestPeers
import TandemTestSupport
import XCTest

final class TransportLayerTests: XCTestCase {
    private var group: MultiThreadedEventLoopGroup!

    override func setUp() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    }

    override func tearDown() async throws {
        try await group.shutdownGracefully()
    }

    private func start(_ transports: [SIPTransportKind], options: SIPTransportOptions = SIPTransportOptions(),
                       certificate: (String, String)? = nil) async throws -> SIPTransportLayer {
        try await SIPTransportLayer.start(
            transports.map { SIPListenerSpec(transport: $0, address: "127.0.0.1", port: 0, certificatePath: certificate?.0, privateKeyPath: certificate?.1) },
            group: group, logger: testLogger(), options: options)
    }

    // MARK: Binding

    func testBindsEveryListenerOnFreePortsAndReportsThem() async throws {
        let layer = try await start([.udp, .tcp, .ws])
        XCTAssertEqual(layer.bound.map(\.transport), [.udp, .tcp, .ws])
        XCTAssertTrue(layer.bound.allSatisfy { $0.port > 0 })
        await layer.close()
    }

    func testAllOrNothingWhenOneListenerCannotBind() async throws {
        let first = try await start([.tcp])
        let taken = first.bound[0].port
        do {
            _ = try await SIPTransportLayer.start(
                [SIPListenerSpec(transport: .udp, address: "127.0.0.1", port: 0),
                 SIPListenerSpec(transport: .tcp, address: "127.0.0.1", port: taken)],
                group: group, logger: testLogger())
            XCTFail("bound a port that is in use")
        } catch {
            XCTAssertTrue("\(error)".hasPrefix("cannot bind TCP listener on 127.0.0.1:\(taken)"), "\(error)")
        }
        await first.close()
    }

    func testSecureListenerWithoutCertificateIsRefused() async throws {
        do {
            _ = try await start([.tls])
            XCTFail("TLS listener bound without a certificate")
        } catch {
            XCTAssertTrue("\(error)".contains("needs a certificate"), "\(error)")
        }
    }

    // MARK: UDP

    func testUDPDatagramInEventWithSourceAndReplyOut() async throws {
        let layer = try await start([.udp])
        let events = EventCollector(layer)
        let listener = try loopback(layer.bound[0].port)

        let loop = group.next()
        let inbox = Inbox<AddressedEnvelope<ByteBuffer>>(eventLoop: loop)
        let client = try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboxHandler<AddressedEnvelope<ByteBuffer>>(inbox))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()

        // Garbage and keep-alives are dropped without an event; the listener keeps working.
        for junk in ["\u{0}\u{1}\u{0}\u{0}binary", "\r\n\r\n", "no headers at all"] {
            try await client.writeAndFlush(AddressedEnvelope(remoteAddress: listener, data: ByteBuffer(string: junk))).get()
        }
        let request = sipMessage("OPTIONS", transport: "UDP")
        try await client.writeAndFlush(AddressedEnvelope(remoteAddress: listener, data: ByteBuffer(string: request))).get()

        let message = try await events.nextMessage()
        XCTAssertEqual(String(buffer: message.bytes), request)
        XCTAssertEqual(message.transport, .udp)
        XCTAssertNil(message.connection)
        XCTAssertEqual(message.source, client.localAddress)
        XCTAssertEqual(message.local.port, layer.bound[0].port)

        let reply = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        try await layer.send(ByteBuffer(string: reply), to: .address(.udp, message.source))
        let received = try await inbox.next()
        XCTAssertEqual(String(buffer: received.data), reply)
        XCTAssertEqual(received.remoteAddress.port, layer.bound[0].port)

        try await client.close()
        await layer.close()
    }

    /// A 58 KB datagram used to cost the parser 26 ms and a flood of them stalled all signaling:
    /// over the limit (8 KB by default) a datagram is dropped unread, counted, and the next one
    /// is served.
    func testUDPDatagramOverTheSizeLimitIsDroppedUnreadAndCounted() async throws {
        let layer = try await start([.udp])
        let events = EventCollector(layer)
        let listener = try loopback(layer.bound[0].port)
        let client = try await DatagramBootstrap(group: group.next()).bind(host: "127.0.0.1", port: 0).get()

        let padding = "X-Padding: " + String(repeating: "a", count: 58_000) + "\r\n"
        let big = sipMessage("INVITE", transport: "UDP").replacingOccurrences(of: "Content-Length:", with: padding + "Content-Length:")
        let atLimit = sipMessage("MESSAGE", transport: "UDP").replacingOccurrences(
            of: "Content-Length:", with: "X-Padding: " + String(repeating: "b", count: 8192 - sipMessage("MESSAGE", transport: "UDP").utf8.count - 13) + "\r\nContent-Length:")
        XCTAssertEqual(atLimit.utf8.count, 8192)
        for datagram in [big, "not SIP at all", atLimit] {
            try await client.writeAndFlush(AddressedEnvelope(remoteAddress: listener, data: ByteBuffer(string: datagram))).get()
        }
        let message = try await events.nextMessage()
        XCTAssertEqual(String(buffer: message.bytes), atLimit, "the oversized INVITE never became an event; 8192 bytes still do")
        XCTAssertEqual(layer.dropped.datagrams, [.oversized: 1, .notSIP: 1])
        XCTAssertEqual(layer.dropped.events, 0)
        try await client.close()
        await layer.close()
    }

    func testUDPSendWithoutAListenerFails() async throws {
        let layer = try await start([.tcp])
        do {
            try await layer.send(ByteBuffer(string: "x"), to: .address(.udp, try loopback(5060)))
            XCTFail("sent UDP without a UDP listener")
        } catch {
            XCTAssertTrue("\(error)".contains("no UDP listener"), "\(error)")
        }
        await layer.close()
    }

    // MARK: TCP

    // MARK: Connection limits

    /// 20,000 idle connections once exhausted the descriptors. Now: a cap per address and in all
    /// (closed as accepted, counted), and a connection that sends no SIP goes after the timeout.
    func testConnectionsOverThePerSourceAndTotalCapsAreClosedAsAccepted() async throws {
        /// Waits (at most 5 s) for `condition`; accepted connections are admitted on their own
        /// loops, so which of several simultaneous ones is refused is not fixed.
        func eventually(_ condition: () -> Bool) async throws -> Bool {
            for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
            return condition()
        }
        var options = SIPTransportOptions()
        options.maximumConnectionsPerSource = 2
        let layer = try await start([.tcp], options: options)
        let address = try loopback(layer.bound[0].port)
        var clients: [StreamTestClient] = []
        for _ in 0..<3 { clients.append(try await StreamTestClient.connect(to: address, group: group)) }
        let refusedOne = try await eventually { layer.connections.closed == [.sourceLimit: 1] && clients.filter(\.channel.isActive).count == 2 }
        XCTAssertTrue(refusedOne, "one of three is closed as accepted: \(layer.connections.closed)")
        XCTAssertEqual(layer.connections.open, 2)
        // One goes; there is room for one more.
        let open = clients.filter(\.channel.isActive)
        try await open[0].channel.close()
        let roomForOne = try await eventually { layer.connections.open == 1 }
        XCTAssertTrue(roomForOne)
        let fourth = try await StreamTestClient.connect(to: address, group: group)
        try await fourth.write(sipMessage("OPTIONS"))
        let admitted = try await eventually { layer.connections.open == 2 }
        XCTAssertTrue(admitted)
        XCTAssertTrue(fourth.channel.isActive)
        XCTAssertEqual(layer.connections.closed, [.sourceLimit: 1])
        try await open[1].channel.close()
        try await fourth.channel.close()
        await layer.close()

        var total = SIPTransportOptions()
        total.maximumConnections = 1
        let capped = try await start([.tcp], options: total)
        let both = [try await StreamTestClient.connect(to: try loopback(capped.bound[0].port), group: group),
                    try await StreamTestClient.connect(to: try loopback(capped.bound[0].port), group: group)]
        let oneRefused = try await eventually { capped.connections.closed == [.connectionLimit: 1] && both.filter(\.channel.isActive).count == 1 }
        XCTAssertTrue(oneRefused, "one of two is closed as accepted: \(capped.connections.closed)")
        for client in both where client.channel.isActive { try await client.channel.close() }
        await capped.close()
    }

    func testAConnectionThatSendsNoSIPIsClosedAfterTheFirstMessageTimeoutAndOneThatDidStays() async throws {
        var options = SIPTransportOptions()
        options.firstMessageTimeout = .milliseconds(500)
        let layer = try await start([.tcp], options: options)
        let events = EventCollector(layer)
        let address = try loopback(layer.bound[0].port)
        let silent = try await StreamTestClient.connect(to: address, group: group)
        let slowloris = try await StreamTestClient.connect(to: address, group: group)
        try await slowloris.write("OPTIONS sip:gw.example.com SIP/2.0\r\nVia: ")  // never finished
        let talker = try await StreamTestClient.connect(to: address, group: group)
        try await talker.write(sipMessage("OPTIONS"))
        _ = try await events.nextMessage()
        let started = NIODeadline.now()
        try await silent.channel.closeFuture.get()
        try await slowloris.channel.closeFuture.get()
        XCTAssertLessThan(NIODeadline.now() - started, .seconds(5))
        try await Task.sleep(for: .milliseconds(700))
        XCTAssertTrue(talker.channel.isActive, "a connection that sent a message is not timed out")
        XCTAssertEqual(layer.connections.closed, [.noFirstMessage: 2])
        try await talker.channel.close()
        await layer.close()
    }

    func testTCPMessageReplyOnConnectionKeepAliveAndClose() async throws {
        let layer = try await start([.tcp])
        let events = EventCollector(layer)
        let client = try await StreamTestClient.connect(to: try loopback(layer.bound[0].port), group: group)

        let request = sipMessage("INVITE", body: "v=0\r\n")
        let cut = request.utf8.count / 2
        try await client.write(String(request.utf8.prefix(cut))!)
        try await client.write(String(request.utf8.dropFirst(cut))! + "\r\n\r\n")

        let message = try await events.nextMessage()
        XCTAssertEqual(String(buffer: message.bytes), request)
        XCTAssertEqual(message.transport, .tcp)
        XCTAssertEqual(message.source, client.channel.localAddress)
        XCTAssertEqual(message.local.port, layer.bound[0].port)
        let id = try XCTUnwrap(message.connection)

        let pong = try await client.read(count: 2)
        XCTAssertEqual(pong, "\r\n", "pong for the CRLFCRLF ping")

        let reply = "SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n"
        try await layer.send(ByteBuffer(string: reply), to: .connection(id))
        let received = try await client.read(count: reply.utf8.count)
        XCTAssertEqual(received, reply)

        try await client.channel.close()
        guard case .connectionClosed(let closed, .tcp) = try await events.next() else { return XCTFail("no connectionClosed") }
        XCTAssertEqual(closed, id)
        do {
            try await layer.send(ByteBuffer(string: reply), to: .connection(id))
            XCTFail("sent on a closed connection")
        } catch {}
        await layer.close()
    }

    func testBadPeerLosesOnlyItsOwnConnection() async throws {
        var options = SIPTransportOptions()
        options.maximumMessageSize = 4096
        let layer = try await start([.tcp], options: options)
        let events = EventCollector(layer)
        let address = try loopback(layer.bound[0].port)
        let good = try await StreamTestClient.connect(to: address, group: group)
        let oversize = try await StreamTestClient.connect(to: address, group: group)
        let unframed = try await StreamTestClient.connect(to: address, group: group)

        try await oversize.write("MESSAGE sip:a SIP/2.0\r\nContent-Length: 100000\r\n\r\n")
        try await waitForClose(oversize.channel)
        try await unframed.write("MESSAGE sip:a SIP/2.0\r\nCall-ID: x\r\n\r\nno length")
        try await waitForClose(unframed.channel)

        var closed = 0
        while closed < 2 {
            guard case .connectionClosed(_, .tcp) = try await events.next() else { return XCTFail("unexpected event") }
            closed += 1
        }
        let request = sipMessage("OPTIONS")
        try await good.write(request)
        let message = try await events.nextMessage()
        XCTAssertEqual(String(buffer: message.bytes), request)
        XCTAssertTrue(good.channel.isActive)
        await layer.close()
    }

    func testOutboundTCPConnectionIsOpenedOnceAndReused() async throws {
        let server = try await start([.tcp])
        let client = try await start([])
        let serverEvents = EventCollector(server)
        let clientEvents = EventCollector(client)
        let address = try loopback(server.bound[0].port)

        async let first: Void = client.send(ByteBuffer(string: sipMessage("REGISTER")), to: .address(.tcp, address))
        async let second: Void = client.send(ByteBuffer(string: sipMessage("OPTIONS")), to: .address(.tcp, address))
        _ = try await (first, second)

        let one = try await serverEvents.nextMessage()
        let two = try await serverEvents.nextMessage()
        XCTAssertEqual(one.connection, two.connection, "both requests on one connection")
        XCTAssertEqual(Set([one, two].map { String(buffer: $0.bytes) }), [sipMessage("REGISTER"), sipMessage("OPTIONS")])

        // A reply on the server's side of the connection reaches the client as an event.
        let reply = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        try await server.send(ByteBuffer(string: reply), to: .connection(try XCTUnwrap(one.connection)))
        let answer = try await clientEvents.nextMessage()
        XCTAssertEqual(String(buffer: answer.bytes), reply)
        XCTAssertEqual(answer.source, address)
        XCTAssertNotNil(answer.connection)

        await client.close()
        guard case .connectionClosed = try await serverEvents.next() else { return XCTFail("no connectionClosed") }
        await server.close()
    }

    func testWebSocketDestinationNeedsAConnection() async throws {
        let layer = try await start([.ws])
        do {
            try await layer.send(ByteBuffer(string: "x"), to: .address(.ws, try loopback(layer.bound[0].port)))
            XCTFail("opened a WebSocket by address")
        } catch {}
        await layer.close()
    }

    // MARK: TLS

    /// A throwaway self-signed certificate for localhost, made with the openssl tool.
    private func makeCertificate() throws -> (String, String) {
        let candidates = ["/usr/bin/openssl", "/usr/local/bin/openssl"]
        try requirePeer(anyOf: candidates, "openssl (Debian openssl), which makes a test certificate")
        let openssl = candidates.first { FileManager.default.isExecutableFile(atPath: $0) }!
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = "openssl could not make a test certificate (exit status \(process.terminationStatus)): \(said)"
            XCTFail(message)
            throw NSError(domain: "TransportLayerTests", code: Int(process.terminationStatus), userInfo: [NSLocalizedDescriptionKey: message])
        }
        return (certificate, key)
    }

    func testOutboundTLSConnectionCarriesMessagesBothWays() async throws {
        let certificate = try makeCertificate()
        let server = try await start([.tls], certificate: certificate)
        var insecure = SIPTransportOptions()
        insecure.verifiesTLSServers = false
        let client = try await start([], options: insecure)
        let serverEvents = EventCollector(server)
        let clientEvents = EventCollector(client)
        let address = try loopback(server.bound[0].port)

        let request = sipMessage("REGISTER", transport: "TLS")
        try await client.send(ByteBuffer(string: request), to: .address(.tls, address, serverName: "localhost"))
        let message = try await serverEvents.nextMessage()
        XCTAssertEqual(String(buffer: message.bytes), request)
        XCTAssertEqual(message.transport, .tls)

        let reply = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        try await server.send(ByteBuffer(string: reply), to: .connection(try XCTUnwrap(message.connection)))
        let answer = try await clientEvents.nextMessage()
        XCTAssertEqual(String(buffer: answer.bytes), reply)
        XCTAssertEqual(answer.transport, .tls)

        await client.close()
        await server.close()
    }

    func testOutboundTLSVerifiesTheServerByDefault() async throws {
        let certificate = try makeCertificate()
        let server = try await start([.tls], certificate: certificate)
        let client = try await start([])
        let serverEvents = EventCollector(server)
        let address = try loopback(server.bound[0].port)
        do {
            try await client.send(ByteBuffer(string: sipMessage("REGISTER", transport: "TLS")),
                                  to: .address(.tls, address, serverName: "localhost"))
            XCTFail("a self-signed certificate was trusted")
        } catch {}
        let quiet = try await serverEvents.noMessages()
        XCTAssertTrue(quiet)
        await client.close()
        await server.close()
    }
}
