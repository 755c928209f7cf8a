// Why an offer could not be answered, or an answer not applied (RFC 3264 §6; JSEP RFC 8829 §5.10).
// The caller answers an offer with 488 Not Acceptable Here and a Warning built from
// `warningCode` (RFC 3261 §20.43) and `reason`.

/// A well-formed session description that cannot be negotiated.
public struct SDPNegotiationError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No audio m-line, or every audio m-line is disabled (port 0).
        case noAudio
        /// No offered audio codec is in the local preference list.
        case noCommonCodec
        /// A WebRTC description without `a=ice-ufrag`/`a=ice-pwd` (or with malformed ones).
        case missingICECredentials
        /// A WebRTC description without a usable `a=fingerprint`.
        case missingFingerprint
        /// A WebRTC description without `a=rtcp-mux`, which Tandem requires.
        case missingRTCPMux
        /// The audio m-line uses a transport protocol this side does not speak.
        case unsupportedProtocol
        /// An answer that does not fit the offer (different m-line count, unoffered codec, bad setup role).
        case invalidAnswer
    }

    public var kind: Kind
    public var reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// The SIP Warning code that fits (RFC 3261 §20.43).
    public var warningCode: Int {
        switch kind {
        case .noAudio: return 304  // Media type not available
        case .noCommonCodec: return 305  // Incompatible media format
        case .unsupportedProtocol: return 302  // Incompatible transport protocol
        case .missingICECredentials, .missingFingerprint, .missingRTCPMux, .invalidAnswer: return 399  // Miscellaneous
        }
    }

    public var description: String { reason }
}
