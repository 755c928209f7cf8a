// SIP request methods (RFC 3261 §7.1 and the extensions Tandem handles: RFC 3262 PRACK,
// RFC 3311 UPDATE, RFC 6086 INFO, RFC 3515 REFER, RFC 6665 SUBSCRIBE/NOTIFY, RFC 3428 MESSAGE).
// Methods are case-sensitive tokens; unknown ones are kept as written.

/// A SIP method token.
public struct SIPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public static let invite = SIPMethod("INVITE")
    public static let ack = SIPMethod("ACK")
    public static let bye = SIPMethod("BYE")
    public static let cancel = SIPMethod("CANCEL")
    public static let options = SIPMethod("OPTIONS")
    public static let register = SIPMethod("REGISTER")
    public static let prack = SIPMethod("PRACK")
    public static let update = SIPMethod("UPDATE")
    public static let info = SIPMethod("INFO")
    public static let refer = SIPMethod("REFER")
    public static let subscribe = SIPMethod("SUBSCRIBE")
    public static let notify = SIPMethod("NOTIFY")
    public static let message = SIPMethod("MESSAGE")

    /// Methods Tandem's user agents accept, for `Allow` headers.
    public static let supported: [SIPMethod] = [.invite, .ack, .bye, .cancel, .options, .register, .prack, .update, .info]

    public var description: String { rawValue }
}
