// Namespace of the RTP core: RTP/RTCP packet codecs (RFC 3550), rewriting, statistics and
// RFC 4733 events. Declared now so the target graph is in place; contents arrive with the
// media legs.

/// The RTP core's namespace.
public enum RTP {
    /// The RTP protocol version carried in every header (RFC 3550 §5.1).
    public static let version: UInt8 = 2
}
