// Namespace of the ICE core: the STUN codec (RFC 8489, STUNMessage.swift, STUNAttribute.swift,
// STUNCrypto.swift) and the ICE-lite agent with consent freshness (RFC 8445 §2.5, RFC 7675,
// ICELiteAgent.swift). Sans-IO: the media engine demultiplexes datagrams (RFC 7983), feeds STUN
// ones to the agent with the time, sends what it returns and asks it which addresses may carry
// media.

/// The ICE core's namespace.
public enum ICE {
    /// The ICE role Tandem takes: it is always a lite agent (RFC 8445 §2.5), never controlling
    /// toward a full agent.
    public static let isLite = true
}
