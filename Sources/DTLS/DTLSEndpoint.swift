// A sans-IO DTLS 1.2 endpoint (RFC 6347) for one WebRTC leg, negotiating DTLS-SRTP (RFC 5764)
// and authenticating the peer by its SDP certificate fingerprint (RFC 8122 §5, RFC 5763 §5).
//
// The engine never sends and never reads a clock: the driver feeds received datagrams with the
// current time and sends the datagrams each call returns; `nextDeadline` is when the driver must
// call `timeout(now:)` so a lost flight is retransmitted (RFC 6347 §4.2.4). OpenSSL's timer
// callback (DTLS_set_timer_cb) chooses every retransmission interval: `initialRetransmission`
// doubled per timeout up to `maximumRetransmission` (RFC 6347 §4.2.4.1). OpenSSL 3.0 still checks
// the expiry of that interval against its own clock, so `timeout(now:)` re-arms for the remainder
// when OpenSSL's clock says the interval has not quite passed.
//
// Datagrams carry whole records and never exceed the configured MTU (RFC 6347 §4.1.1): OpenSSL
// packs a flight's records up to the MTU; handshake messages larger than the MTU are fragmented, and
// fragmented or retransmitted messages from the peer are reassembled or ignored by it.

import COpenSSL
import CTandemShims
import NIOCore

/// Settings of a DTLS endpoint that rarely change.
public struct DTLSConfiguration: Sendable, Hashable {
    /// Largest datagram the endpoint writes (RFC 8261 and WebRTC practice: 1200).
    public var mtu: Int
    /// First retransmission interval (RFC 6347 §4.2.4.1 recommends 1 s).
    public var initialRetransmission: TimeAmount
    /// Longest retransmission interval (RFC 6347 §4.2.4.1: at least 60 s).
    public var maximumRetransmission: TimeAmount

    public init(
        mtu: Int = 1200, initialRetransmission: TimeAmount = .seconds(1),
        maximumRetransmission: TimeAmount = .seconds(60)
    ) {
        self.mtu = mtu
        self.initialRetransmission = initialRetransmission
        self.maximumRetransmission = maximumRetransmission
    }
}

/// Why a DTLS association failed.
public struct DTLSFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The peer certificate's hash differs from the SDP a=fingerprint.
        case fingerprintMismatch
        /// The handshake failed: a protocol error, or a fatal alert from the peer.
        case handshake
        /// The peers share no SRTP protection profile (RFC 5764 §4.1.3).
        case noCommonSRTPProfile
        /// The peer stopped answering: OpenSSL gave up retransmitting.
        case timedOut
        /// The SRTP keys could not be exported.
        case keyExport
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}

/// Something the driver must act on.
public enum DTLSEvent: Sendable, Hashable {
    /// The handshake completed: set up SRTP with this profile and these keys.
    case connected(SRTPProtectionProfile, SRTPKeyingMaterial)
    /// The association failed; the endpoint will do nothing more.
    case failed(DTLSFailure)
    /// The peer closed the association (close_notify).
    case closed
}

/// What one call produced: datagrams to send, in order, and events.
public struct DTLSOutput: Sendable, Hashable {
    public var datagrams: [[UInt8]]
    public var events: [DTLSEvent]

    public init(datagrams: [[UInt8]] = [], events: [DTLSEvent] = []) {
        self.datagrams = datagrams
        self.events = events
    }
}

/// One side of a DTLS-SRTP association. Not thread-safe: one driver (event loop) owns it.
public final class DTLSEndpoint {
    public enum State: Sendable, Hashable {
        case idle
        case handshaking
        case connected(SRTPProtectionProfile)
        case failed(DTLSFailure)
        case closed
    }

    public let role: DTLSRole
    public let configuration: DTLSConfiguration
    public let expectedRemoteFingerprint: CertificateFingerprint
    public private(set) var state: State = .idle
    /// When the driver must call `timeout(now:)`, or nil when no timer runs.
    public private(set) var nextDeadline: NIODeadline?

    /// SSL_CTX*, freed in deinit.
    private let context: OpaquePointer
    /// SSL*, freed in deinit (with the two BIOs it owns).
    private let ssl: OpaquePointer
    private let pipe = DatagramPipe()
    private let certificate: DTLSCertificate

    /// The retransmission interval OpenSSL was last given, in microseconds.
    private var retransmissionInterval: UInt32 = 0
    /// Set by the timer callback when OpenSSL (re)started its timer during the current call.
    private var timerRestarted = false
    /// Set by the verify callback when the peer certificate did not match.
    private var fingerprintMismatch: String?

    /// - Parameters:
    ///   - srtpProfiles: offered (client) or accepted (server) profiles, most preferred first;
    ///     OpenSSL as server picks by its own order.
    ///   - expectedRemoteFingerprint: the peer's a=fingerprint; the peer certificate must match
    ///     it (self-signed certificates are accepted, RFC 8827 §6.5).
    public init(
        role: DTLSRole, certificate: DTLSCertificate, srtpProfiles: [SRTPProtectionProfile],
        expectedRemoteFingerprint: CertificateFingerprint, configuration: DTLSConfiguration = DTLSConfiguration()
    ) throws {
        guard !srtpProfiles.isEmpty else { throw DTLSError("no SRTP protection profile given") }
        ERR_clear_error()
        guard let context = SSL_CTX_new(DTLS_method()) else {
            throw DTLSError.fromQueue("cannot create a DTLS context")
        }
        do {
            try Self.configure(context, certificate: certificate, srtpProfiles: srtpProfiles)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        guard let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw DTLSError.fromQueue("cannot create a DTLS connection")
        }
        self.role = role
        self.configuration = configuration
        self.expectedRemoteFingerprint = expectedRemoteFingerprint
        self.context = context
        self.ssl = ssl
        self.certificate = certificate
        // From here deinit frees the context and the connection.

        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        guard let readBIO = DatagramBIOMethod.shared.makeBIO(over: pipe) else {
            throw DTLSError.fromQueue("cannot create the datagram BIO")
        }
        guard let writeBIO = DatagramBIOMethod.shared.makeBIO(over: pipe) else {
            BIO_free(readBIO)
            throw DTLSError.fromQueue("cannot create the datagram BIO")
        }
        SSL_set_bio(ssl, readBIO, writeBIO)
        guard tandem_dtls_set_mtu(ssl, configuration.mtu) == 1 else {
            throw DTLSError.fromQueue("cannot set the DTLS MTU to \(configuration.mtu)")
        }
        tandem_ssl_disable_session_tickets(ssl)
        DTLS_set_timer_cb(ssl, dtlsTimerCallback)
        SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, dtlsVerifyCallback)
        switch role {
        case .client: SSL_set_connect_state(ssl)
        case .server: SSL_set_accept_state(ssl)
        }
    }

    private static func configure(
        _ context: OpaquePointer, certificate: DTLSCertificate, srtpProfiles: [SRTPProtectionProfile]
    ) throws {
        guard tandem_ssl_ctx_set_proto_versions(context, DTLS1_2_VERSION, DTLS1_2_VERSION) == 1 else {
            throw DTLSError.fromQueue("cannot restrict the context to DTLS 1.2")
        }
        guard SSL_CTX_use_certificate(context, certificate.certificate) == 1,
            SSL_CTX_use_PrivateKey(context, certificate.privateKey) == 1
        else {
            throw DTLSError.fromQueue("cannot use the certificate and key")
        }
        // ECDHE with AEAD first (what browsers offer), CBC kept for older SIP-side peers.
        let ciphers = [
            "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
            "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305",
            "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
        ].joined(separator: ":")
        guard SSL_CTX_set_cipher_list(context, ciphers) == 1 else {
            throw DTLSError.fromQueue("cannot set the cipher list")
        }
        // Returns 0 on success, unlike most of OpenSSL.
        guard SSL_CTX_set_tlsext_use_srtp(context, srtpProfiles.map(\.rawValue).joined(separator: ":")) == 0 else {
            throw DTLSError.fromQueue("cannot offer SRTP profiles \(srtpProfiles)")
        }
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    static func owner(of ssl: OpaquePointer) -> DTLSEndpoint? {
        guard let data = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<DTLSEndpoint>.fromOpaque(data).takeUnretainedValue()
    }

    // MARK: Driving

    /// Starts the handshake. A client returns its ClientHello; a server returns nothing and waits.
    public func start(now: NIODeadline) -> DTLSOutput {
        guard case .idle = state else { return DTLSOutput() }
        state = .handshaking
        return role == .client ? advance(now: now) : DTLSOutput()
    }

    /// Feeds one received datagram (which may hold several records).
    public func receive(_ datagram: [UInt8], now: NIODeadline) -> DTLSOutput {
        switch state {
        case .idle:
            // A server that was not started explicitly starts on the first ClientHello; a client
            // speaks first, so nothing can be for it yet.
            guard role == .server else { return DTLSOutput() }
            state = .handshaking
        case .handshaking, .connected: break
        case .failed, .closed: return DTLSOutput()
        }
        pipe.inbound.append(datagram)
        return advance(now: now)
    }

    /// Feeds one received datagram held in a ByteBuffer (its readable bytes).
    public func receive(_ datagram: ByteBuffer, now: NIODeadline) -> DTLSOutput {
        receive(Array(datagram.readableBytesView), now: now)
    }

    /// Retransmits the last flight when `nextDeadline` has passed.
    public func timeout(now: NIODeadline) -> DTLSOutput {
        guard let deadline = nextDeadline, now >= deadline else { return DTLSOutput() }
        switch state {
        case .handshaking, .connected: break
        case .idle, .failed, .closed:
            nextDeadline = nil
            return DTLSOutput()
        }
        ERR_clear_error()
        let result = tandem_dtls_handle_timeout(ssl)
        var events: [DTLSEvent] = []
        if result < 0 {
            let errors = OpenSSLErrorQueue.drain()
            events.append(fail(DTLSFailure(.timedOut, "no answer after repeated retransmissions \(errors)")))
        } else if result == 0 {
            // OpenSSL's clock says the interval has not quite passed: wait for the remainder.
            var remaining: Int64 = 0
            nextDeadline = tandem_dtls_get_timeout(ssl, &remaining) == 1 ? now + .microseconds(max(remaining, 1)) : nil
            return DTLSOutput(datagrams: pipe.takeOutbound())
        }
        updateDeadline(now: now)
        return DTLSOutput(datagrams: pipe.takeOutbound(), events: events)
    }

    /// Sends close_notify and stops. No event follows: the caller asked for it.
    public func close(now: NIODeadline) -> DTLSOutput {
        switch state {
        case .handshaking, .connected:
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
        case .idle, .failed, .closed: break
        }
        state = .closed
        nextDeadline = nil
        return DTLSOutput(datagrams: pipe.takeOutbound())
    }

    // MARK: Internals

    private func advance(now: NIODeadline) -> DTLSOutput {
        var events: [DTLSEvent] = []
        if case .handshaking = state {
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            if result == 1 {
                events.append(handshakeCompleted())
            } else {
                let error = SSL_get_error(ssl, result)
                if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                    events.append(fail(handshakeFailure()))
                }
            }
        }
        if case .connected = state, !pipe.inbound.isEmpty {
            // No application data is expected; reading lets OpenSSL answer a retransmitted
            // Finished (RFC 6347 §4.2.4) and notice close_notify.
            if let event = readAfterHandshake() { events.append(event) }
        }
        pipe.inbound.removeAll()
        updateDeadline(now: now)
        return DTLSOutput(datagrams: pipe.takeOutbound(), events: events)
    }

    private func readAfterHandshake() -> DTLSEvent? {
        var scratch = [UInt8](repeating: 0, count: 2048)
        while true {
            ERR_clear_error()
            let count = SSL_read(ssl, &scratch, Int32(scratch.count))
            if count > 0 { continue }  // application data: discarded
            switch SSL_get_error(ssl, count) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return nil
            case SSL_ERROR_ZERO_RETURN:
                state = .closed
                nextDeadline = nil
                return .closed
            default:
                let errors = OpenSSLErrorQueue.drain()
                return fail(DTLSFailure(.handshake, errors.isEmpty ? "connection error" : errors.joined(separator: "; ")))
            }
        }
    }

    private func handshakeCompleted() -> DTLSEvent {
        guard let peer = SSL_get0_peer_certificate(ssl) else {
            return fail(DTLSFailure(.fingerprintMismatch, "the peer presented no certificate"))
        }
        if let mismatch = checkPeerCertificate(peer) {
            return fail(DTLSFailure(.fingerprintMismatch, mismatch))
        }
        guard let selected = SSL_get_selected_srtp_profile(ssl),
            let profile = SRTPProtectionProfile(identifier: UInt16(truncatingIfNeeded: selected.pointee.id))
        else {
            return fail(DTLSFailure(.noCommonSRTPProfile, "the peers negotiated no SRTP protection profile"))
        }
        let label = "EXTRACTOR-dtls_srtp"
        var exported = [UInt8](repeating: 0, count: SRTPKeyingMaterial.exportLength(for: profile))
        ERR_clear_error()
        let exportedOK = exported.withUnsafeMutableBufferPointer { buffer in
            SSL_export_keying_material(ssl, buffer.baseAddress, buffer.count, label, label.utf8.count, nil, 0, 0) == 1
        }
        guard exportedOK, let keys = SRTPKeyingMaterial(exported: exported, profile: profile) else {
            let errors = OpenSSLErrorQueue.drain()
            return fail(DTLSFailure(.keyExport, "SSL_export_keying_material failed \(errors)"))
        }
        state = .connected(profile)
        return .connected(profile, keys)
    }

    private func handshakeFailure() -> DTLSFailure {
        let errors = OpenSSLErrorQueue.drain()
        if let fingerprintMismatch { return DTLSFailure(.fingerprintMismatch, fingerprintMismatch) }
        return DTLSFailure(.handshake, errors.isEmpty ? "handshake failed" : errors.joined(separator: "; "))
    }

    private func fail(_ failure: DTLSFailure) -> DTLSEvent {
        state = .failed(failure)
        nextDeadline = nil
        return .failed(failure)
    }

    /// nil when `x509` (the peer's end-entity certificate) matches the expected fingerprint.
    fileprivate func checkPeerCertificate(_ x509: OpaquePointer) -> String? {
        let actual = CertificateFingerprint(hash: expectedRemoteFingerprint.hash, x509: x509)
        if actual == expectedRemoteFingerprint { return nil }
        let mismatch = "peer certificate \(actual) does not match a=fingerprint \(expectedRemoteFingerprint)"
        fingerprintMismatch = mismatch
        return mismatch
    }

    /// Called by OpenSSL when it starts its retransmission timer (previous == 0) or after a
    /// timeout (previous = the interval that expired); returns the next interval.
    fileprivate func nextRetransmissionInterval(previous: UInt32) -> UInt32 {
        let initial = Self.microseconds(configuration.initialRetransmission)
        let maximum = max(Self.microseconds(configuration.maximumRetransmission), initial)
        retransmissionInterval = previous == 0 ? initial : min(UInt32(clamping: UInt64(previous) * 2), maximum)
        timerRestarted = true
        return retransmissionInterval
    }

    private static func microseconds(_ amount: TimeAmount) -> UInt32 {
        UInt32(clamping: max(amount.nanoseconds / 1000, 1))
    }

    private func updateDeadline(now: NIODeadline) {
        defer { timerRestarted = false }
        switch state {
        case .handshaking, .connected: break
        case .idle, .failed, .closed:
            nextDeadline = nil
            return
        }
        var remaining: Int64 = 0
        guard tandem_dtls_get_timeout(ssl, &remaining) == 1 else {
            nextDeadline = nil
            return
        }
        if timerRestarted || nextDeadline == nil {
            nextDeadline = now + .microseconds(Int64(retransmissionInterval))
        }
    }
}

/// DTLS_timer_cb: the retransmission interval comes from the endpoint's configuration.
private func dtlsTimerCallback(_ ssl: OpaquePointer?, _ previous: UInt32) -> UInt32 {
    guard let ssl, let endpoint = DTLSEndpoint.owner(of: ssl) else { return 1_000_000 }
    return endpoint.nextRetransmissionInterval(previous: previous)
}

/// SSL_verify_cb: accepts any chain (WebRTC certificates are self-signed) whose end-entity
/// certificate matches the expected fingerprint.
private func dtlsVerifyCallback(_ preverified: Int32, _ store: OpaquePointer?) -> Int32 {
    guard let store,
        let sslPointer = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
        let endpoint = DTLSEndpoint.owner(of: OpaquePointer(sslPointer))
    else { return 0 }
    guard X509_STORE_CTX_get_error_depth(store) == 0 else { return 1 }
    guard let certificate = X509_STORE_CTX_get_current_cert(store) else { return 0 }
    return endpoint.checkPeerCertificate(certificate) == nil ? 1 : 0
}
