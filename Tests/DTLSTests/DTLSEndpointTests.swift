// DTLS-SRTP handshakes between two in-memory endpoints: profile negotiation (RFC 5764 §4.1.2),
// mirrored keying material (RFC 5764 §4.2), retransmission under loss (RFC 6347 §4.2.4),
// fragment reassembly (RFC 6347 §4.2.3), fingerprint checks (RFC 8122 §5) and close_notify.

import DTLS
import NIOCore
import XCTest

final class DTLSEndpointTests: XCTestCase {
    private let fastRetransmission = DTLSConfiguration(initialRetransmission: .milliseconds(60))

    func testEachProfileIsNegotiatedWithMirroredKeys() throws {
        for profile in SRTPProtectionProfile.allCases {
            let pair = try HandshakePair(clientProfiles: [profile])
            pair.runWithoutTimers()
            let client = try XCTUnwrap(pair.clientConnection, "\(profile): \(pair.clientEvents)")
            let server = try XCTUnwrap(pair.serverConnection, "\(profile): \(pair.serverEvents)")
            XCTAssertEqual(client.0, profile)
            XCTAssertEqual(server.0, profile)
            XCTAssertEqual(client.1, server.1, "both sides export the same keys")
            XCTAssertEqual(pair.client.state, .connected(profile))
            XCTAssertEqual(pair.server.state, .connected(profile))
            let keys = client.1
            XCTAssertEqual(keys.clientWriteKey.count, profile.masterKeyLength)
            XCTAssertEqual(keys.serverWriteKey.count, profile.masterKeyLength)
            XCTAssertEqual(keys.clientWriteSalt.count, profile.masterSaltLength)
            XCTAssertEqual(keys.serverWriteSalt.count, profile.masterSaltLength)
            XCTAssertNotEqual(keys.clientWriteKey, keys.serverWriteKey)
        }
    }

    func testKeyAndSaltLengthsFollowTheProfile() {
        XCTAssertEqual(SRTPKeyingMaterial.exportLength(for: .aes128CMSHA1_80), 60)
        XCTAssertEqual(SRTPKeyingMaterial.exportLength(for: .aes128CMSHA1_32), 60)
        XCTAssertEqual(SRTPKeyingMaterial.exportLength(for: .aeadAES128GCM), 56)
        XCTAssertEqual(SRTPKeyingMaterial.exportLength(for: .aeadAES256GCM), 88)
    }

    func testExportedBytesSplitIntoClientKeyServerKeyClientSaltServerSalt() throws {
        let bytes = (0..<60).map { UInt8($0) }
        let keys = try XCTUnwrap(SRTPKeyingMaterial(exported: bytes, profile: .aes128CMSHA1_80))
        XCTAssertEqual(keys.clientWriteKey, Array(0..<16))
        XCTAssertEqual(keys.serverWriteKey, Array(16..<32))
        XCTAssertEqual(keys.clientWriteSalt, Array(32..<46))
        XCTAssertEqual(keys.serverWriteSalt, Array(46..<60))
        XCTAssertNil(SRTPKeyingMaterial(exported: bytes, profile: .aeadAES128GCM))
    }

    func testServerPreferenceOrderDecidesAmongCommonProfiles() throws {
        let gcmFirst = try HandshakePair(
            clientProfiles: [.aes128CMSHA1_80, .aeadAES256GCM], serverProfiles: [.aeadAES256GCM, .aes128CMSHA1_80])
        gcmFirst.runWithoutTimers()
        XCTAssertEqual(gcmFirst.clientConnection?.0, .aeadAES256GCM)
        XCTAssertEqual(gcmFirst.serverConnection?.0, .aeadAES256GCM)

        let cmFirst = try HandshakePair(
            clientProfiles: [.aeadAES256GCM, .aes128CMSHA1_80], serverProfiles: [.aes128CMSHA1_80, .aeadAES256GCM])
        cmFirst.runWithoutTimers()
        XCTAssertEqual(cmFirst.clientConnection?.0, .aes128CMSHA1_80)
        XCTAssertEqual(cmFirst.serverConnection?.0, .aes128CMSHA1_80)

        let onlyOneShared = try HandshakePair(
            clientProfiles: [.aeadAES128GCM, .aes128CMSHA1_32], serverProfiles: [.aeadAES256GCM, .aes128CMSHA1_32])
        onlyOneShared.runWithoutTimers()
        XCTAssertEqual(onlyOneShared.clientConnection?.0, .aes128CMSHA1_32)
        XCTAssertEqual(onlyOneShared.serverConnection?.0, .aes128CMSHA1_32)
    }

    func testNoCommonProfileFailsBothSides() throws {
        let pair = try HandshakePair(clientProfiles: [.aes128CMSHA1_32], serverProfiles: [.aeadAES256GCM])
        pair.runWithoutTimers()
        XCTAssertNil(pair.clientConnection)
        XCTAssertNil(pair.serverConnection)
        XCTAssertEqual(HandshakePair.failure(in: pair.clientEvents)?.kind, .noCommonSRTPProfile, "\(pair.clientEvents)")
        XCTAssertEqual(HandshakePair.failure(in: pair.serverEvents)?.kind, .noCommonSRTPProfile, "\(pair.serverEvents)")
    }

    func testEveryDatagramFitsTheMTU() throws {
        let pair = try HandshakePair()
        pair.runWithoutTimers()
        XCTAssertNotNil(pair.clientConnection)
        for datagram in pair.clientSent + pair.serverSent {
            XCTAssertLessThanOrEqual(datagram.count, 1200)
            // Whole records only: a record never straddles two datagrams.
            let records = DTLSRecord.parse(datagram)
            XCTAssertEqual(records.reduce(0) { $0 + 13 + $1.body.count }, datagram.count)
        }
        // ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone,
        // ChangeCipherSpec, Finished: records packed into datagrams up to the MTU.
        let serverRecords = pair.serverSent.flatMap(DTLSRecord.parse)
        XCTAssertEqual(serverRecords.compactMap(\.handshakeType), [2, 11, 12, 13, 14])
        XCTAssertEqual(serverRecords.count, 7)
    }

    func testSmallMTUFragmentsMessagesAndTheHandshakeStillCompletes() throws {
        let small = DTLSConfiguration(mtu: 300)
        let pair = try HandshakePair(clientConfiguration: small, serverConfiguration: small)
        pair.runWithoutTimers()
        XCTAssertNotNil(pair.clientConnection, "\(pair.clientEvents)")
        XCTAssertNotNil(pair.serverConnection, "\(pair.serverEvents)")
        for datagram in pair.clientSent + pair.serverSent { XCTAssertLessThanOrEqual(datagram.count, 300) }
    }

    func testClientArmsTheRetransmissionTimerAndDisarmsItWhenConnected() throws {
        let pair = try HandshakePair()
        let now = NIODeadline.uptimeNanoseconds(5_000_000_000)
        XCTAssertNil(pair.client.nextDeadline)
        pair.start(now: now)
        XCTAssertEqual(pair.client.nextDeadline, now + .seconds(1), "RFC 6347 initial timer of 1 s")
        XCTAssertNil(pair.server.nextDeadline, "a server waiting for ClientHello runs no timer")
        XCTAssertEqual(pair.client.timeout(now: now + .milliseconds(500)), DTLSOutput(), "nothing before the deadline")
        pair.pump(now: now)
        XCTAssertNotNil(pair.clientConnection)
        XCTAssertNil(pair.client.nextDeadline)
        XCTAssertNil(pair.server.nextDeadline)
    }

    func testRetransmissionIntervalDoublesPerTimeout() throws {
        let pair = try HandshakePair(clientConfiguration: fastRetransmission)
        let start = NIODeadline.now()
        let hello = pair.client.start(now: start)
        XCTAssertEqual(hello.datagrams.count, 1)
        XCTAssertEqual(pair.client.nextDeadline, start + .milliseconds(60))
        var now = start
        for expected in [120, 240] {
            usleep(UInt32(clamping: (pair.client.nextDeadline! - NIODeadline.now()).nanoseconds / 1000 + 1000))
            now = .now()
            let retransmission = pair.client.timeout(now: now)
            XCTAssertEqual(retransmission.datagrams.count, 1)
            XCTAssertEqual(DTLSRecord.parse(retransmission.datagrams[0]).first?.handshakeType, 1, "ClientHello again")
            XCTAssertNotEqual(retransmission.datagrams[0], hello.datagrams[0], "with a new record number")
            XCTAssertEqual(pair.client.nextDeadline, now + .milliseconds(Int64(expected)))
        }
    }

    func testClientIgnoresDatagramsBeforeItStarts() throws {
        let pair = try HandshakePair()
        XCTAssertEqual(pair.client.receive([0x16, 0xFE, 0xFD], now: .uptimeNanoseconds(0)), DTLSOutput())
        XCTAssertEqual(pair.client.state, .idle)
    }

    func testLostClientHelloIsRetransmittedWhenTheDeadlinePasses() throws {
        let pair = try HandshakePair(clientConfiguration: fastRetransmission, serverConfiguration: fastRetransmission)
        pair.dropFromClient = { index, _ in index < 2 }  // the ClientHello and its first retransmission
        pair.runInRealTime()
        XCTAssertNotNil(pair.clientConnection, "\(pair.clientEvents)")
        XCTAssertNotNil(pair.serverConnection, "\(pair.serverEvents)")
        XCTAssertEqual(pair.clientConnection?.1, pair.serverConnection?.1)
        let clientHellos = pair.clientSent.filter { DTLSRecord.parse($0).first?.handshakeType == 1 }
        XCTAssertEqual(clientHellos.count, 3)
    }

    func testLostDatagramsOfEachFlightAreRecoveredByRetransmission() throws {
        let pair = try HandshakePair(clientConfiguration: fastRetransmission, serverConfiguration: fastRetransmission)
        // The first datagram of the server's flight (ServerHello), the second datagram of the
        // client's second flight, and the server's first final flight.
        var serverDrops = 0
        pair.dropFromServer = { index, datagram in
            let records = DTLSRecord.parse(datagram)
            if index == 0 { return true }
            if records.contains(where: { $0.contentType == 20 }) && serverDrops == 0 {  // ChangeCipherSpec
                serverDrops += 1
                return true
            }
            return false
        }
        var clientFlightDrops = 0
        pair.dropFromClient = { _, datagram in
            // The client's Certificate (type 11) the first time it is sent.
            if DTLSRecord.parse(datagram).first?.handshakeType == 11 && clientFlightDrops == 0 {
                clientFlightDrops += 1
                return true
            }
            return false
        }
        pair.runInRealTime()
        // The server's final flight was lost once: the client retransmits its flight and the
        // connected server answers the retransmitted Finished.
        for _ in 0..<20 where pair.clientConnection == nil {
            if let deadline = pair.client.nextDeadline {
                let wait = deadline - .now()
                if wait > .zero { usleep(UInt32(clamping: wait.nanoseconds / 1000 + 1)) }
            }
            pair.deliver(pair.client.timeout(now: .now()), fromClient: true)
            pair.pump(now: .now())
        }
        XCTAssertEqual(serverDrops, 1)
        XCTAssertEqual(clientFlightDrops, 1)
        XCTAssertNotNil(pair.clientConnection, "\(pair.clientEvents)")
        XCTAssertNotNil(pair.serverConnection, "\(pair.serverEvents)")
        XCTAssertEqual(pair.clientConnection?.1, pair.serverConnection?.1)
    }

    func testRetransmittedClientHelloDoesNotDisturbTheHandshake() throws {
        let pair = try HandshakePair()
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        pair.start(now: now)
        let clientHello = try XCTUnwrap(pair.clientSent.first)
        pair.inject(toServer: clientHello, now: now)  // a duplicate arrives before the original
        pair.pump(now: now)
        XCTAssertNotNil(pair.clientConnection, "\(pair.clientEvents)")
        XCTAssertNotNil(pair.serverConnection, "\(pair.serverEvents)")
    }

    func testClientHelloFragmentedAcrossDatagramsIsReassembled() throws {
        let pair = try HandshakePair(clientConfiguration: fastRetransmission, serverConfiguration: fastRetransmission)
        var fragmented = false
        pair.dropFromClient = { index, _ in index == 0 }  // replaced by the fragments below
        pair.start(now: .now())
        let clientHello = try XCTUnwrap(DTLSRecord.parse(try XCTUnwrap(pair.clientSent.first)).first)
        XCTAssertEqual(clientHello.handshakeType, 1)
        // Handshake header (RFC 6347 §4.2.2): type, length(3), message_seq(2), fragment_offset(3),
        // fragment_length(3), then the body. Split the body in two fragments, sent last first.
        let header = Array(clientHello.body[0..<12])
        let body = Array(clientHello.body[12...])
        let half = body.count / 2
        func fragment(offset: Int, bytes: ArraySlice<UInt8>, sequence: UInt64) -> [UInt8] {
            var handshake = Array(header[0..<6])
            handshake += [UInt8(offset >> 16), UInt8((offset >> 8) & 0xFF), UInt8(offset & 0xFF)]
            handshake += [UInt8(bytes.count >> 16), UInt8((bytes.count >> 8) & 0xFF), UInt8(bytes.count & 0xFF)]
            return DTLSRecord(contentType: 22, epoch: 0, sequence: sequence, body: handshake + bytes).serialized()
        }
        let second = fragment(offset: half, bytes: body[half...], sequence: 1)
        let first = fragment(offset: 0, bytes: body[..<half], sequence: 0)
        pair.inject(toServer: second, now: .now())
        XCTAssertTrue(pair.serverSent.isEmpty, "half a ClientHello gets no answer")
        pair.inject(toServer: first, now: .now())
        fragmented = !pair.serverSent.isEmpty
        XCTAssertTrue(fragmented, "the reassembled ClientHello is answered")
        // The client's epoch-0 record number 1 now looks like a replay to the server, so the
        // rest may need one retransmission.
        let end = NIODeadline.now() + .seconds(5)
        while !pair.finished && NIODeadline.now() < end {
            pair.pump(now: .now())
            let deadlines = [pair.client.nextDeadline, pair.server.nextDeadline].compactMap { $0 }
            if let next = deadlines.min() {
                let wait = next - .now()
                if wait > .zero { usleep(UInt32(clamping: wait.nanoseconds / 1000 + 1)) }
            }
            pair.deliver(pair.client.timeout(now: .now()), fromClient: true)
            pair.deliver(pair.server.timeout(now: .now()), fromClient: false)
        }
        XCTAssertNotNil(pair.clientConnection, "\(pair.clientEvents)")
        XCTAssertNotNil(pair.serverConnection, "\(pair.serverEvents)")
    }

    func testWrongServerFingerprintFailsTheClient() throws {
        let stranger = try DTLSCertificate.selfSigned(commonName: "stranger")
        let pair = try HandshakePair(clientExpects: stranger.fingerprint(.sha256))
        pair.runWithoutTimers()
        XCTAssertEqual(HandshakePair.failure(in: pair.clientEvents)?.kind, .fingerprintMismatch, "\(pair.clientEvents)")
        XCTAssertNil(pair.serverConnection, "the server learns of it by the client's alert")
        XCTAssertEqual(HandshakePair.failure(in: pair.serverEvents)?.kind, .handshake, "\(pair.serverEvents)")
        if case .failed = pair.client.state {} else { XCTFail("client state \(pair.client.state)") }
    }

    func testWrongClientFingerprintFailsTheServer() throws {
        let stranger = try DTLSCertificate.selfSigned(commonName: "stranger")
        let pair = try HandshakePair(serverExpects: stranger.fingerprint(.sha256))
        pair.runWithoutTimers()
        XCTAssertEqual(HandshakePair.failure(in: pair.serverEvents)?.kind, .fingerprintMismatch, "\(pair.serverEvents)")
        XCTAssertNil(pair.serverConnection)
        XCTAssertNil(pair.clientConnection)
    }

    func testFingerprintWithAnotherHashIsChecked() throws {
        let serverCertificate = try DTLSCertificate.selfSigned()
        let clientCertificate = try DTLSCertificate.selfSigned()
        let client = try DTLSEndpoint(
            role: .client, certificate: clientCertificate, srtpProfiles: [.aes128CMSHA1_80],
            expectedRemoteFingerprint: CertificateFingerprint(
                hash: .sha384, value: serverCertificate.fingerprint(.sha384).value.lowercased()))
        let server = try DTLSEndpoint(
            role: .server, certificate: serverCertificate, srtpProfiles: [.aes128CMSHA1_80],
            expectedRemoteFingerprint: clientCertificate.fingerprint(.sha512))
        let now = NIODeadline.uptimeNanoseconds(0)
        var toServer = client.start(now: now).datagrams
        var toClient: [[UInt8]] = []
        var events: [DTLSEvent] = []
        for _ in 0..<10 {
            for datagram in toServer {
                let output = server.receive(datagram, now: now)
                toClient += output.datagrams
                events += output.events
            }
            toServer = []
            for datagram in toClient {
                let output = client.receive(datagram, now: now)
                toServer += output.datagrams
                events += output.events
            }
            toClient = []
        }
        XCTAssertEqual(client.state, .connected(.aes128CMSHA1_80), "\(events)")
        XCTAssertEqual(server.state, .connected(.aes128CMSHA1_80), "\(events)")
    }

    func testCloseNotifyReachesThePeer() throws {
        let pair = try HandshakePair()
        pair.runWithoutTimers()
        XCTAssertNotNil(pair.clientConnection)
        let now = NIODeadline.uptimeNanoseconds(2_000_000_000)
        let close = pair.client.close(now: now)
        XCTAssertEqual(pair.client.state, .closed)
        XCTAssertFalse(close.datagrams.isEmpty)
        let events = close.datagrams.flatMap { pair.server.receive($0, now: now).events }
        XCTAssertEqual(events, [.closed])
        XCTAssertEqual(pair.server.state, .closed)
        XCTAssertEqual(pair.server.receive(close.datagrams[0], now: now), DTLSOutput(), "a closed endpoint ignores input")
    }

    func testGarbageBeforeTheHandshakeDoesNotConnect() throws {
        let pair = try HandshakePair()
        let now = NIODeadline.uptimeNanoseconds(0)
        let output = pair.server.receive([0x16, 0xFE, 0xFD, 0, 0], now: now)
        XCTAssertNil(HandshakePair.connection(in: output.events))
        // Nothing legitimate has been lost: a real handshake still succeeds afterwards.
        pair.start(now: now)
        pair.pump(now: now)
        XCTAssertNotNil(pair.serverConnection, "\(pair.serverEvents)")
    }
}
