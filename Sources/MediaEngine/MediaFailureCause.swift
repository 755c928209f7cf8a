// Why a call's media failed, as a value. Each cause carries everything the rest of the daemon
// says about it, written here once: the stable `label` (the `cause` label of
// `tandem_media_failures_total`, the CDR's `end_cause`, the log's `cause=`), the human `text`
// (the SIP Reason header's text, RFC 3326, the CDR's `end_reason`), and the `sipCause` code of
// that Reason header. New causes are new static members: a struct with a private enum grows
// without breaking anyone who switches on it.

import DTLS

/// Why a call's media could not continue.
///
/// Two causes are equal when they are the same kind of failure, whatever their ``detail``:
/// `cause == .dtlsFingerprintMismatch` holds for every mismatch.
public struct MediaFailureCause: Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable, CaseIterable {
        case iceChecksFailed
        case iceConsentExpired
        case dtlsFingerprintMismatch
        case dtlsHandshakeFailed
        case dtlsHandshakeTimeout
        case dtlsNoCommonSRTPProfile
        case dtlsKeyExportFailed
        case dtlsClosedByPeer
        case srtpSetupFailed
        case rtpTimeout
        case socketError
    }

    private var base: Base
    /// What only this occurrence says (OpenSSL's error, the OS error): it follows ``text`` in the
    /// Reason header and the CDR, and never enters ``label``.
    public private(set) var detail: String?

    private init(_ base: Base, detail: String? = nil) {
        self.base = base
        self.detail = detail
    }

    /// No ICE connectivity check from the browser succeeded (RFC 8445 §7.2.5.3).
    public static let iceChecksFailed = MediaFailureCause(.iceChecksFailed)
    /// The browser stopped answering consent checks for 30 s (RFC 7675 §5.1).
    public static let iceConsentExpired = MediaFailureCause(.iceConsentExpired)
    /// The browser's certificate does not match the SDP `a=fingerprint` (RFC 8122 §5).
    public static let dtlsFingerprintMismatch = MediaFailureCause(.dtlsFingerprintMismatch)
    /// The DTLS handshake failed: a protocol error or a fatal alert from the browser.
    public static let dtlsHandshakeFailed = MediaFailureCause(.dtlsHandshakeFailed)
    /// The browser stopped answering during the handshake: retransmissions gave up.
    public static let dtlsHandshakeTimeout = MediaFailureCause(.dtlsHandshakeTimeout)
    /// The peers share no SRTP protection profile (RFC 5764 §4.1.3).
    public static let dtlsNoCommonSRTPProfile = MediaFailureCause(.dtlsNoCommonSRTPProfile)
    /// The SRTP keys could not be exported from the DTLS association.
    public static let dtlsKeyExportFailed = MediaFailureCause(.dtlsKeyExportFailed)
    /// The browser closed DTLS (close_notify) and sent no BYE within the grace time.
    public static let dtlsClosedByPeer = MediaFailureCause(.dtlsClosedByPeer)
    /// libsrtp refused the keys DTLS produced.
    public static let srtpSetupFailed = MediaFailureCause(.srtpSetupFailed)
    /// No RTP from the trunk for the configured `rtp_timeout` while it should be sending.
    public static let rtpTimeout = MediaFailureCause(.rtpTimeout)
    /// The call's media sockets could not be opened.
    public static let socketError = MediaFailureCause(.socketError)

    /// Every kind of cause, without detail: the label values of `tandem_media_failures_total`.
    public static let allCauses: [MediaFailureCause] = Base.allCases.map { MediaFailureCause($0) }

    /// The same cause with `detail` attached.
    public func withDetail(_ detail: String?) -> MediaFailureCause {
        MediaFailureCause(base, detail: detail)
    }

    /// Stable, snake_case: the `cause` metric label, the CDR's `end_cause`, the log's `cause`.
    public var label: String {
        switch base {
        case .iceChecksFailed: "ice_checks_failed"
        case .iceConsentExpired: "ice_consent_expired"
        case .dtlsFingerprintMismatch: "dtls_fingerprint_mismatch"
        case .dtlsHandshakeFailed: "dtls_handshake_failed"
        case .dtlsHandshakeTimeout: "dtls_handshake_timeout"
        case .dtlsNoCommonSRTPProfile: "dtls_no_common_srtp_profile"
        case .dtlsKeyExportFailed: "dtls_key_export_failed"
        case .dtlsClosedByPeer: "dtls_closed_by_peer"
        case .srtpSetupFailed: "srtp_setup_failed"
        case .rtpTimeout: "rtp_timeout"
        case .socketError: "socket_error"
        }
    }

    /// What a person reads: the Reason header's text, the CDR's `end_reason`. The DTLS texts name
    /// the failure as the DTLS engine does (`DTLS fingerprintMismatch: ...`), as they always have.
    public var text: String {
        let summary: String
        switch base {
        case .iceChecksFailed: summary = "ICE failed: no check succeeded"
        case .iceConsentExpired: summary = "ICE consent expired"
        case .dtlsFingerprintMismatch: summary = "DTLS fingerprintMismatch"
        case .dtlsHandshakeFailed: summary = "DTLS handshake"
        case .dtlsHandshakeTimeout: summary = "DTLS timedOut"
        case .dtlsNoCommonSRTPProfile: summary = "DTLS noCommonSRTPProfile"
        case .dtlsKeyExportFailed: summary = "DTLS keyExport"
        case .dtlsClosedByPeer: summary = "DTLS closed by the peer"
        case .srtpSetupFailed: summary = "SRTP setup failed"
        case .rtpTimeout: summary = "RTP timeout: no media from the trunk"
        case .socketError: summary = "media sockets could not be opened"
        }
        guard let detail, !detail.isEmpty else { return summary }
        return summary + ": " + detail
    }

    /// The `cause` of the SIP Reason header (RFC 3326): 500 for every media failure.
    public var sipCause: Int { 500 }

    public var description: String { "\(label): \(text)" }

    public static func == (lhs: MediaFailureCause, rhs: MediaFailureCause) -> Bool { lhs.base == rhs.base }

    public func hash(into hasher: inout Hasher) { hasher.combine(base) }
}

extension MediaFailureCause {
    /// The cause of a failed DTLS association, with the engine's detail.
    public static func dtls(_ failure: DTLSFailure) -> MediaFailureCause {
        let cause: MediaFailureCause
        switch failure.kind {
        case .fingerprintMismatch: cause = .dtlsFingerprintMismatch
        case .handshake: cause = .dtlsHandshakeFailed
        case .timedOut: cause = .dtlsHandshakeTimeout
        case .noCommonSRTPProfile: cause = .dtlsNoCommonSRTPProfile
        case .keyExport: cause = .dtlsKeyExportFailed
        }
        return cause.withDetail(failure.detail)
    }
}
