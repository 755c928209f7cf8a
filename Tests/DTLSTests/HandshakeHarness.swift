// Test harness: two DTLS endpoints joined by an in-memory "network" that may drop or rewrite
// datagrams, driven either without timers or in real time through each endpoint's nextDeadline
// (RFC 6347 §4.2.4 retransmission).

import DTLS
import Glibc
import NIOCore
import XCTest

/// A client and a server endpoint and everything they told the driver.
final class HandshakePair {
    let clientCertificate: DTLSCertificate
    let serverCertificate: DTLSCertificate
    let client: DTLSEndpoint
    let server: DTLSEndpoint
    var clientEvents: [DTLSEvent] = []
    var serverEvents: [DTLSEvent] = []
    /// Every datagram each side sent, in order (before any drop).
    var clientSent: [[UInt8]] = []
    var serverSent: [[UInt8]] = []
    /// Decides, by its index among that side's sent datagrams, whether a datagram is lost.
    var dropFromClient: (Int, [UInt8]) -> Bool = { _, _ in false }
    var dropFromServer: (Int, [UInt8]) -> Bool = { _, _ in false }
    /// Datagrams in flight: (to the server?, bytes).
    private var inFlight: [(toServer: Bool, datagram: [UInt8])] = []

    init(
        clientProfiles: [SRTPProtectionProfile] = SRTPProtectionProfile.allCases,
        serverProfiles: [SRTPProtectionProfile] = SRTPProtectionProfile.allCases,
        clientExpects: CertificateFingerprint? = nil, serverExpects: CertificateFingerprint? = nil,
        clientConfiguration: DTLSConfiguration = DTLSConfiguration(),
        serverConfiguration: DTLSConfiguration = DTLSConfiguration()
    ) throws {
        clientCertificate = try DTLSCertificate.selfSigned(commonName: "client")
        serverCertificate = try DTLSCertificate.selfSigned(commonName: "server")
        client = try DTLSEndpoint(
            role: .client, certificate: clientCertificate, srtpProfiles: clientProfiles,
            expectedRemoteFingerprint: clientExpects ?? serverCertificate.fingerprint(.sha256),
            configuration: clientConfiguration)
        server = try DTLSEndpoint(
            role: .server, certificate: serverCertificate, srtpProfiles: serverProfiles,
            expectedRemoteFingerprint: serverExpects ?? clientCertificate.fingerprint(.sha256),
            configuration: serverConfiguration)
    }

    var finished: Bool {
        func done(_ state: DTLSEndpoint.State) -> Bool {
            if case .handshaking = state { return false }
            return true
        }
        return done(client.state) && done(server.state)
    }

    func start(now: NIODeadline) {
        _ = server.start(now: now)
        deliver(client.start(now: now), fromClient: true)
    }

    func deliver(_ output: DTLSOutput, fromClient: Bool) {
        if fromClient {
            clientEvents += output.events
            for datagram in output.datagrams {
                defer { clientSent.append(datagram) }
                if !dropFromClient(clientSent.count, datagram) { inFlight.append((true, datagram)) }
            }
        } else {
            serverEvents += output.events
            for datagram in output.datagrams {
                defer { serverSent.append(datagram) }
                if !dropFromServer(serverSent.count, datagram) { inFlight.append((false, datagram)) }
            }
        }
    }

    /// Hands a datagram to the server as if it came from the client, bypassing drops.
    func inject(toServer datagram: [UInt8], now: NIODeadline) {
        deliver(server.receive(datagram, now: now), fromClient: false)
    }

    /// Delivers datagrams until none are in flight.
    func pump(now: NIODeadline) {
        var steps = 0
        while !inFlight.isEmpty {
            steps += 1
            precondition(steps < 10_000, "datagram storm")
            let (toServer, datagram) = inFlight.removeFirst()
            if toServer {
                deliver(server.receive(datagram, now: now), fromClient: false)
            } else {
                deliver(client.receive(datagram, now: now), fromClient: true)
            }
        }
    }

    /// Runs the handshake in real time: delivers, then sleeps until the earlier deadline and
    /// fires the timers, until both sides are done or `limit` passes.
    func runInRealTime(limit: TimeAmount = .seconds(10)) {
        let end = NIODeadline.now() + limit
        start(now: .now())
        while true {
            pump(now: .now())
            if finished || NIODeadline.now() > end { return }
            let deadlines = [client.nextDeadline, server.nextDeadline].compactMap { $0 }
            guard let next = deadlines.min() else { return }
            let wait = next - NIODeadline.now()
            if wait > .zero { usleep(UInt32(clamping: wait.nanoseconds / 1000 + 1)) }
            deliver(client.timeout(now: .now()), fromClient: true)
            deliver(server.timeout(now: .now()), fromClient: false)
        }
    }

    /// Runs the handshake without ever firing a timer (a lossless network needs none).
    func runWithoutTimers() {
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        start(now: now)
        pump(now: now)
    }

    var clientConnection: (SRTPProtectionProfile, SRTPKeyingMaterial)? { Self.connection(in: clientEvents) }
    var serverConnection: (SRTPProtectionProfile, SRTPKeyingMaterial)? { Self.connection(in: serverEvents) }

    static func connection(in events: [DTLSEvent]) -> (SRTPProtectionProfile, SRTPKeyingMaterial)? {
        for event in events { if case .connected(let profile, let keys) = event { return (profile, keys) } }
        return nil
    }

    static func failure(in events: [DTLSEvent]) -> DTLSFailure? {
        for event in events { if case .failed(let failure) = event { return failure } }
        return nil
    }
}

/// DTLS record header fields (RFC 6347 §4.1) of every record in a datagram.
struct DTLSRecord {
    var contentType: UInt8
    var epoch: UInt16
    var sequence: UInt64
    var body: [UInt8]

    static func parse(_ datagram: [UInt8]) -> [DTLSRecord] {
        var records: [DTLSRecord] = []
        var offset = 0
        while offset + 13 <= datagram.count {
            let length = Int(datagram[offset + 11]) << 8 | Int(datagram[offset + 12])
            guard offset + 13 + length <= datagram.count else { break }
            let epoch = UInt16(datagram[offset + 3]) << 8 | UInt16(datagram[offset + 4])
            let sequence = datagram[offset + 5..<offset + 11].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            records.append(
                DTLSRecord(
                    contentType: datagram[offset], epoch: epoch, sequence: sequence,
                    body: Array(datagram[offset + 13..<offset + 13 + length])))
            offset += 13 + length
        }
        return records
    }

    func serialized() -> [UInt8] {
        var bytes: [UInt8] = [contentType, 0xFE, 0xFD, UInt8(epoch >> 8), UInt8(epoch & 0xFF)]
        for shift in stride(from: 40, through: 0, by: -8) { bytes.append(UInt8((sequence >> UInt64(shift)) & 0xFF)) }
        bytes += [UInt8(body.count >> 8), UInt8(body.count & 0xFF)]
        return bytes + body
    }

    /// The handshake message type of a handshake record, if it is one.
    var handshakeType: UInt8? { contentType == 22 && !body.isEmpty && epoch == 0 ? body[0] : nil }
}
