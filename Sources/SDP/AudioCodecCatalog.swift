// The audio codecs Tandem negotiates, with their RTP clock rates and static payload types
// (RFC 3551 §6 for PCMU/PCMA; RFC 7587 for Opus; RFC 4733 for telephone-event). Configuration
// names codecs by these names; offer/answer maps them to rtpmap lines.

/// An audio codec Tandem can offer or answer.
public enum AudioCodecName: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case opus
    case pcmu
    case pcma
    /// RFC 4733 DTMF events, negotiated like a codec.
    case telephoneEvent = "telephone-event"

    /// The encoding name as written in an `a=rtpmap` line.
    public var encodingName: String {
        switch self {
        case .opus: return "opus"
        case .pcmu: return "PCMU"
        case .pcma: return "PCMA"
        case .telephoneEvent: return "telephone-event"
        }
    }

    /// The RTP clock rate. Opus always signals 48000 (RFC 7587 §4.1), whatever it codes at.
    public var clockRate: Int {
        switch self {
        case .opus: return 48000
        case .pcmu, .pcma: return 8000
        case .telephoneEvent: return 8000
        }
    }

    /// The static payload type, if RFC 3551 assigns one.
    public var staticPayloadType: UInt8? {
        switch self {
        case .pcmu: return 0
        case .pcma: return 8
        case .opus, .telephoneEvent: return nil
        }
    }

    /// Whether this entry carries audio (as opposed to DTMF events).
    public var isAudio: Bool { self != .telephoneEvent }

    public var description: String { encodingName }
}
