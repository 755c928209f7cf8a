// The SIP transports Tandem speaks (RFC 3261 §18, RFC 7118 for WebSocket) and what each one
// implies: the Via transport token, the URI default port, and whether framing is by datagram or
// by stream. The parser, transactions and dialogs arrive with the signaling front end.

/// A SIP transport protocol.
public enum SIPTransportKind: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case udp
    case tcp
    case tls
    /// SIP over WebSocket (RFC 7118), plain.
    case ws
    /// SIP over secure WebSocket (RFC 7118).
    case wss

    /// The token in a Via header's sent-protocol (RFC 3261 §20.42, RFC 7118 §5.2).
    public var viaToken: String { rawValue.uppercased() }

    /// The port a URI without one implies: 5060 for UDP/TCP/WS, 5061 for TLS/WSS
    /// (RFC 3261 §19.1.2; WebSocket URIs carry their HTTP port explicitly in practice).
    public var defaultPort: Int {
        switch self {
        case .udp, .tcp, .ws: return 5060
        case .tls, .wss: return 5061
        }
    }

    /// Whether the transport is encrypted (TLS or WSS).
    public var isSecure: Bool { self == .tls || self == .wss }

    /// Whether messages arrive on a byte stream that needs Content-Length framing or WebSocket
    /// framing, as opposed to one message per datagram.
    public var isStream: Bool { self != .udp }

    /// Whether this is a WebSocket transport, served by an HTTP listener with an upgrade.
    public var isWebSocket: Bool { self == .ws || self == .wss }

    /// The IP protocol the listener binds.
    public var usesUDP: Bool { self == .udp }

    public var description: String { viaToken }
}
