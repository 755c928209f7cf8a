// What each media failure cause says: its stable label (metrics, CDR, logs), its text (the SIP
// Reason header, unchanged from what browsers and trunks have always been sent) and its code.

import DTLS
import MediaEngine
import XCTest

final class MediaFailureCauseTests: XCTestCase {
    func testEveryCauseHasItsLabelTextAndCode() {
        let expected: [(MediaFailureCause, String, String)] = [
            (.iceChecksFailed, "ice_checks_failed", "ICE failed: no check succeeded"),
            (.iceConsentExpired, "ice_consent_expired", "ICE consent expired"),
            (.dtlsFingerprintMismatch, "dtls_fingerprint_mismatch", "DTLS fingerprintMismatch"),
            (.dtlsHandshakeFailed, "dtls_handshake_failed", "DTLS handshake"),
            (.dtlsHandshakeTimeout, "dtls_handshake_timeout", "DTLS timedOut"),
            (.dtlsNoCommonSRTPProfile, "dtls_no_common_srtp_profile", "DTLS noCommonSRTPProfile"),
            (.dtlsKeyExportFailed, "dtls_key_export_failed", "DTLS keyExport"),
            (.dtlsClosedByPeer, "dtls_closed_by_peer", "DTLS closed by the peer"),
            (.srtpSetupFailed, "srtp_setup_failed", "SRTP setup failed"),
            (.rtpTimeout, "rtp_timeout", "RTP timeout: no media from the trunk"),
            (.socketError, "socket_error", "media sockets could not be opened"),
        ]
        for (cause, label, text) in expected {
            XCTAssertEqual(cause.label, label)
            XCTAssertEqual(cause.text, text, label)
            XCTAssertEqual(cause.sipCause, 500, label)
            XCTAssertNil(cause.detail, label)
            XCTAssertEqual(cause.description, "\(label): \(text)")
        }
        XCTAssertEqual(Set(MediaFailureCause.allCauses.map(\.label)), Set(expected.map(\.1)), "allCauses lists every cause once")
        XCTAssertEqual(MediaFailureCause.allCauses.count, expected.count)
    }

    func testLabelsAreSnakeCaseMetricLabelValues() {
        for cause in MediaFailureCause.allCauses {
            XCTAssertTrue(cause.label.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }, cause.label)
        }
    }

    func testDetailFollowsTheTextButStaysOutOfTheLabelAndEquality() {
        let cause = MediaFailureCause.srtpSetupFailed.withDetail("bad key length")
        XCTAssertEqual(cause.text, "SRTP setup failed: bad key length")
        XCTAssertEqual(cause.label, "srtp_setup_failed")
        XCTAssertEqual(cause.detail, "bad key length")
        XCTAssertEqual(cause, .srtpSetupFailed)
        XCTAssertEqual(Set([cause, .srtpSetupFailed, .rtpTimeout]).count, 2)
        XCTAssertNotEqual(cause, .dtlsHandshakeFailed)
        XCTAssertEqual(MediaFailureCause.rtpTimeout.withDetail("").text, "RTP timeout: no media from the trunk")
    }

    func testADTLSFailureKeepsTheTextTheDTLSEngineGives() {
        let cases: [(DTLSFailure.Kind, MediaFailureCause)] = [
            (.fingerprintMismatch, .dtlsFingerprintMismatch), (.handshake, .dtlsHandshakeFailed), (.timedOut, .dtlsHandshakeTimeout),
            (.noCommonSRTPProfile, .dtlsNoCommonSRTPProfile), (.keyExport, .dtlsKeyExportFailed),
        ]
        for (kind, expected) in cases {
            let failure = DTLSFailure(kind, "what OpenSSL said")
            let cause = MediaFailureCause.dtls(failure)
            XCTAssertEqual(cause, expected)
            XCTAssertEqual(cause.text, "DTLS \(failure)", "the Reason text as it always was")
            XCTAssertEqual(cause.detail, "what OpenSSL said")
        }
    }
}
