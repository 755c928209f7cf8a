// Namespace of the ICE core: the STUN codec (RFC 8489) and the ICE-lite agent with consent
// freshness (RFC 8445 §2.5, RFC 7675). The module is declared now so the target graph is in
// place; its contents arrive with the WebRTC media leg.

/// The ICE core's namespace.
public enum ICE {
    /// The ICE role Tandem takes: it is always a lite agent (RFC 8445 §2.5), never controlling
    /// toward a full agent.
    public static let isLite = true
}
