// Both ends of one call as the load generator plays them: the browser end (full ICE agent in the
// controlling role, DTLS, SRTP) on one UDP socket and the trunk end (plain RTP, PCMU) on another.
// Setup runs on the calling thread; afterwards the sender thread sends and the receiver thread
// receives, each writing only its own half of the call's logs.

import DTLS
import Foundation
import ICE
import NIOCore
import SRTP
#if canImport(Glibc)
import Glibc
#endif

enum CallMode: String, Sendable { case transcoded, relayed }

/// What a peer said about its media in SDP, the parts the generator needs.
struct RemoteMedia {
    var port: UInt16 = 0
    var payloadTypes: [UInt8] = []
    var ufrag: String?
    var password: String?
    var fingerprint: CertificateFingerprint?
    var setup: String?
    var candidatePort: UInt16?
    var rtpMap: [String] = []

    init(sdp: String) throws {
        var connection: String?
        for raw in sdp.split(whereSeparator: \.isNewline) {
            let line = String(raw)
            if line.hasPrefix("m=audio ") {
                let parts = line.split(separator: " ")
                port = UInt16(parts[1]) ?? 0
                payloadTypes = parts.dropFirst(3).compactMap { UInt8($0) }
            } else if line.hasPrefix("c=IN IP4 ") {
                connection = String(line.dropFirst(9))
            } else if line.hasPrefix("a=ice-ufrag:") {
                ufrag = String(line.dropFirst(12))
            } else if line.hasPrefix("a=ice-pwd:") {
                password = String(line.dropFirst(10))
            } else if line.hasPrefix("a=fingerprint:") {
                let parts = line.dropFirst(14).split(separator: " ")
                if parts.count == 2, let hash = FingerprintHash(rawValue: parts[0].lowercased()) {
                    fingerprint = CertificateFingerprint(hash: hash, value: String(parts[1]))
                }
            } else if line.hasPrefix("a=setup:") {
                setup = String(line.dropFirst(8))
            } else if line.hasPrefix("a=rtpmap:") {
                rtpMap.append(String(line.dropFirst(9)))
            } else if line.hasPrefix("a=candidate:"), candidatePort == nil {
                // foundation component transport priority address port typ type
                let parts = line.split(separator: " ")
                if parts.count > 7, parts[1] == "1", parts[2].lowercased() == "udp", parts[4] == "127.0.0.1" {
                    candidatePort = UInt16(parts[5])
                }
            }
        }
        guard port != 0 else { throw LoadError("no audio port in SDP:\n\(sdp)") }
        if let connection, connection != "127.0.0.1" { throw LoadError("media address \(connection) is not loopback") }
    }
}

/// One direction of one call: when each packet went out (by index) and what came in.
final class StreamLog: @unchecked Sendable {
    let capacity: Int
    let sendTimes: UnsafeMutablePointer<Int64>
    private(set) var sent = 0
    let receivedOrdinals: UnsafeMutablePointer<Int64>
    let receivedTimes: UnsafeMutablePointer<Int64>
    private(set) var received = 0
    private var lastSequence: UInt16 = 0
    private var lastOrdinal: Int64 = -1
    var rejected = 0
    /// Relayed calls: packets whose payload is byte for byte one the other end sent, and others.
    var payloadIdentical = 0
    var payloadChanged = 0

    init(capacity: Int) {
        self.capacity = capacity
        sendTimes = .allocate(capacity: capacity)
        receivedOrdinals = .allocate(capacity: capacity * 2)
        receivedTimes = .allocate(capacity: capacity * 2)
    }

    deinit {
        sendTimes.deallocate()
        receivedOrdinals.deallocate()
        receivedTimes.deallocate()
    }

    @inline(__always) func recordSent(_ index: Int, at time: Int64) {
        guard index < capacity else { return }
        sendTimes[index] = time
        sent = index + 1
    }

    /// An arrival: its sequence number, extended to an ordinal counted from the first arrival.
    @inline(__always) func recordReceived(sequence: UInt16, at time: Int64) {
        guard received < capacity * 2 else { return }
        let ordinal: Int64 = lastOrdinal < 0 ? 0 : lastOrdinal + Int64(Int16(bitPattern: sequence &- lastSequence))
        if ordinal > lastOrdinal {
            lastOrdinal = ordinal
            lastSequence = sequence
        }
        receivedOrdinals[received] = ordinal
        receivedTimes[received] = time
        received += 1
    }
}

final class LoadCall: @unchecked Sendable {
    let index: Int
    let mode: CallMode
    let browser: UDPSocket
    let trunk: UDPSocket
    let localUfrag = randomToken(8)
    let localPassword = randomToken(24)
    let certificate: DTLSCertificate
    var browserRemote = loopbackAddress(port: 0)
    var trunkRemote = loopbackAddress(port: 0)
    var remoteUfrag = ""
    var remotePassword = ""
    var profile: SRTPProtectionProfile?
    private var outbound: SRTPSession?
    private var inbound: SRTPSession?
    let toTrunk: StreamLog
    let toWeb: StreamLog
    /// The payloads the browser end sends on a relayed call (PCMU): what the trunk end must get.
    var expectedTrunkPayloads: Set<[UInt8]>?
    /// Payload type and RTP clock ticks per 20 ms frame on the browser leg.
    var browserPayloadType: UInt8
    let browserTicks: UInt32
    private let browserSSRC = UInt32.random(in: 1...UInt32.max)
    private let trunkSSRC = UInt32.random(in: 1...UInt32.max)
    private let tieBreaker = UInt64.random(in: 0...UInt64.max)
    private var generator = SystemRandomNumberGenerator()
    private let trunkPacket = UnsafeMutableRawBufferPointer.allocate(byteCount: 172, alignment: 4)
    private let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)

    init(index: Int, mode: CallMode, certificate: DTLSCertificate, capacity: Int) throws {
        self.index = index
        self.mode = mode
        self.certificate = certificate
        browser = try UDPSocket()
        trunk = try UDPSocket()
        toTrunk = StreamLog(capacity: capacity)
        toWeb = StreamLog(capacity: capacity)
        browserPayloadType = mode == .transcoded ? 111 : 0
        browserTicks = mode == .transcoded ? 960 : 160
    }

    deinit {
        trunkPacket.deallocate()
        receiveBuffer.deallocate()
    }

    // MARK: SDP

    /// The browser's offer, as Chrome words it: Opus only (transcoded runs) or PCMU only (relayed).
    var browserOffer: String {
        let fingerprint = certificate.fingerprint(.sha256)
        let codecs = mode == .transcoded
            ? "m=audio \(browser.port) UDP/TLS/RTP/SAVPF 111\r\n"
            : "m=audio \(browser.port) UDP/TLS/RTP/SAVPF 0\r\n"
        let maps = mode == .transcoded
            ? "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
            : "a=rtpmap:0 PCMU/8000\r\n"
        return "v=0\r\no=- \(UInt32.random(in: 1...UInt32.max)) 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
            + "a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n" + codecs
            + "c=IN IP4 127.0.0.1\r\na=rtcp:\(browser.port) IN IP4 127.0.0.1\r\n"
            + "a=candidate:1 1 udp 2130706431 127.0.0.1 \(browser.port) typ host generation 0\r\n"
            + "a=ice-ufrag:\(localUfrag)\r\na=ice-pwd:\(localPassword)\r\na=ice-options:trickle\r\n"
            + "a=fingerprint:\(fingerprint.hash.rawValue) \(fingerprint.value)\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n"
            + "a=msid:- bench-\(index)\r\na=rtcp-mux\r\n" + maps + "a=ssrc:\(browserSSRC) cname:bench\(index)\r\n"
    }

    /// The trunk's answer: PCMU on the trunk socket.
    var trunkAnswer: String {
        "v=0\r\no=trunk \(index + 1) 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            + "m=audio \(trunk.port) RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n"
    }

    /// What the gateway offered or answered toward the trunk: where to send.
    func trunkRemote(from sdp: String) throws {
        let media = try RemoteMedia(sdp: sdp)
        guard media.payloadTypes.contains(0) else { throw LoadError("no PCMU toward the trunk:\n\(sdp)") }
        trunkRemote = loopbackAddress(port: media.port)
    }

    // MARK: ICE and DTLS

    private func bindingRequest() -> [UInt8] {
        STUNMessage(type: .bindingRequest, transactionID: .random(using: &generator), attributes: [
            .username(remoteUfrag + ":" + localUfrag), .priority(1_853_817_087), .iceControlling(tieBreaker), .useCandidate,
        ]).encode(integrityPassword: remotePassword, fingerprint: true)
    }

    private func bindingResponse(to request: STUNMessage, port: UInt16) -> [UInt8] {
        STUNMessage(type: .bindingSuccess, transactionID: request.transactionID, attributes: [
            .xorMappedAddress(ICETransportAddress(ipv4: 127, 0, 0, 1, port: port)),
        ]).encode(integrityPassword: localPassword, fingerprint: true)
    }

    /// ICE checks until one succeeds, then the DTLS handshake in the role the answer left us;
    /// SRTP is keyed from it.
    func connect(answer sdp: String, timeout: TimeInterval = 10) throws {
        let media = try RemoteMedia(sdp: sdp)
        guard let ufrag = media.ufrag, let password = media.password, let fingerprint = media.fingerprint else {
            throw LoadError("the answer lacks ICE credentials or a fingerprint:\n\(sdp)")
        }
        remoteUfrag = ufrag
        remotePassword = password
        browserRemote = loopbackAddress(port: media.candidatePort ?? media.port)
        if mode == .relayed { browserPayloadType = 0 }
        let role: DTLSRole = media.setup == "active" ? .server : .client
        let dtls = try DTLSEndpoint(role: role, certificate: certificate,
                                    srtpProfiles: [.aeadAES256GCM, .aeadAES128GCM, .aes128CMSHA1_80, .aes128CMSHA1_32],
                                    expectedRemoteFingerprint: fingerprint)
        let deadline = Date().addingTimeInterval(timeout)
        var iceDone = false
        var started = false
        var lastCheck = Date.distantPast
        func send(_ output: DTLSOutput) throws {
            for datagram in output.datagrams { browser.send(datagram, to: browserRemote) }
            for event in output.events {
                switch event {
                case .connected(let chosen, let keys):
                    profile = chosen
                    outbound = try SRTPSession(profile: chosen, keyingMaterial: keys, role: role, direction: .outbound)
                    inbound = try SRTPSession(profile: chosen, keyingMaterial: keys, role: role, direction: .inbound)
                case .failed(let failure): throw LoadError("call \(index): DTLS failed: \(failure)")
                case .closed: throw LoadError("call \(index): DTLS closed")
                }
            }
        }
        while outbound == nil {
            guard Date() < deadline else { throw LoadError("call \(index): no \(iceDone ? "DTLS" : "ICE") within \(timeout) s") }
            if !iceDone && Date().timeIntervalSince(lastCheck) > 0.05 {
                browser.send(bindingRequest(), to: browserRemote)
                lastCheck = Date()
            }
            if iceDone && role == .client && !started {
                started = true
                try send(dtls.start(now: .now()))
            }
            if let next = dtls.nextDeadline, next <= .now() { try send(dtls.timeout(now: .now())) }
            guard let (datagram, port) = browser.receive(timeoutMilliseconds: 10), let first = datagram.first else { continue }
            if first <= 3, let message = try? STUNMessage.parse(datagram) {
                if message.type == .bindingRequest {
                    browser.send(bindingResponse(to: message, port: port), to: loopbackAddress(port: port))
                } else if message.type == .bindingSuccess {
                    iceDone = true
                } else if message.type == .bindingError {
                    throw LoadError("call \(index): ICE check refused: \(String(describing: message.errorCode))")
                }
            } else if (20...63).contains(first) {
                try send(dtls.receive(datagram, now: .now()))
            }
        }
        // Keep the DTLS endpoint alive only as long as the handshake; retransmitted finished
        // flights after this are answered by no one, which both gateways tolerate.
        withExtendedLifetime(dtls) {}
    }

    // MARK: Media (sender thread)

    /// Sends frame `index` both ways: SRTP from the browser end, RTP from the trunk end.
    @inline(__always)
    func sendFrame(_ index: Int, opus: [[UInt8]], pcmu: [[UInt8]]) {
        guard let outbound else { return }
        let payload = mode == .transcoded ? opus[index % opus.count] : pcmu[index % pcmu.count]
        var packet = header(payloadType: browserPayloadType, sequence: UInt16(truncatingIfNeeded: index),
                            timestamp: UInt32(truncatingIfNeeded: index) &* browserTicks, ssrc: browserSSRC)
        packet.append(contentsOf: payload)
        if (try? outbound.protect(rtp: &packet)) != nil {
            // The time is taken before the send: the reply may be read before send returns.
            toTrunk.recordSent(index, at: monotonicNanoseconds())
            browser.send(packet, to: browserRemote)
        }
        // Trunk: PCMU, written in place.
        let frame = pcmu[index % pcmu.count]
        writeHeader(into: trunkPacket, payloadType: 0, sequence: UInt16(truncatingIfNeeded: index),
                    timestamp: UInt32(truncatingIfNeeded: index) &* 160, ssrc: trunkSSRC)
        frame.withUnsafeBytes { trunkPacket.baseAddress!.advanced(by: 12).copyMemory(from: $0.baseAddress!, byteCount: 160) }
        toWeb.recordSent(index, at: monotonicNanoseconds())
        trunk.send(UnsafeRawBufferPointer(trunkPacket), to: trunkRemote)
        // Consent freshness (RFC 7675): a check every 5 s.
        if index % 250 == 125 { browser.send(bindingRequest(), to: browserRemote) }
    }

    // MARK: Receiving (receiver thread)

    func drainBrowser() {
        while let (length, port) = browser.receive(into: receiveBuffer) {
            guard length > 12 else { continue }
            let first = receiveBuffer[0]
            if first <= 3 {
                if let message = try? STUNMessage.parse(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<length])),
                    message.type == .bindingRequest {
                    browser.send(bindingResponse(to: message, port: port), to: loopbackAddress(port: port))
                }
                continue
            }
            guard first >= 128, first < 192 else { continue }
            let payloadType = receiveBuffer[1] & 0x7F
            guard !(64...95).contains(payloadType) else { continue }  // RTCP
            var packet = Array(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<length]))
            guard let inbound, (try? inbound.unprotect(rtp: &packet)) != nil else {
                toWeb.rejected += 1
                continue
            }
            let sequence = UInt16(packet[2]) << 8 | UInt16(packet[3])
            toWeb.recordReceived(sequence: sequence, at: monotonicNanoseconds())
        }
    }

    func drainTrunk() {
        while let (length, _) = trunk.receive(into: receiveBuffer) {
            guard length > 12, receiveBuffer[0] >= 128, receiveBuffer[0] < 192 else { continue }
            let payloadType = receiveBuffer[1] & 0x7F
            guard !(64...95).contains(payloadType) else { continue }
            guard payloadType == 0 else {
                toTrunk.rejected += 1
                continue
            }
            let sequence = UInt16(receiveBuffer[2]) << 8 | UInt16(receiveBuffer[3])
            toTrunk.recordReceived(sequence: sequence, at: monotonicNanoseconds())
            if let expected = expectedTrunkPayloads {
                if expected.contains(Array(receiveBuffer[12..<length])) { toTrunk.payloadIdentical += 1 } else { toTrunk.payloadChanged += 1 }
            }
        }
    }
}

func header(payloadType: UInt8, sequence: UInt16, timestamp: UInt32, ssrc: UInt32) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 12)
    bytes.reserveCapacity(12 + 200 + 32)
    bytes.withUnsafeMutableBytes { writeHeader(into: $0, payloadType: payloadType, sequence: sequence, timestamp: timestamp, ssrc: ssrc) }
    return bytes
}

@inline(__always)
func writeHeader(into bytes: UnsafeMutableRawBufferPointer, payloadType: UInt8, sequence: UInt16, timestamp: UInt32, ssrc: UInt32) {
    bytes[0] = 0x80
    bytes[1] = payloadType
    bytes.storeBytes(of: sequence.bigEndian, toByteOffset: 2, as: UInt16.self)
    bytes.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
    bytes.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
}

func randomToken(_ length: Int) -> String {
    let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    return String((0..<length).map { _ in alphabet.randomElement()! })
}
