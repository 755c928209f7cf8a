// The session description model (RFC 8866 §5): session-level fields, timing, and media
// descriptions, each holding its attributes as an ordered list of (name, value?) pairs so that
// attributes Tandem does not understand survive a parse/serialize round trip unchanged. Parsing
// lives in SessionDescription+Parsing.swift, writing in SessionDescription+Serialization.swift,
// typed attribute views in SDPAttributes.swift and the accessors in SessionDescription+Attributes.swift.

/// One `a=` line: `a=name` (a property attribute, `value == nil`) or `a=name:value` (RFC 8866 §5.13).
public struct SDPAttribute: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: String?

    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }

    /// The text after `a=`.
    public var description: String {
        guard let value else { return name }
        return "\(name):\(value)"
    }
}

/// The `o=` line (RFC 8866 §5.2).
public struct SDPOrigin: Sendable, Hashable {
    /// `-` when the host has no user ids.
    public var username: String
    /// A numeric string, kept as written (it may not fit any integer type).
    public var sessionID: String
    /// Incremented whenever the session description changes (RFC 3264 §8).
    public var sessionVersion: UInt64
    public var networkType: String
    public var addressType: String
    public var address: String

    public init(
        username: String = "-", sessionID: String, sessionVersion: UInt64, networkType: String = "IN",
        addressType: String, address: String
    ) {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }

    /// An `IN` origin whose address type (`IP4`/`IP6`) follows from the address.
    public init(username: String = "-", sessionID: UInt64, sessionVersion: UInt64, address: String) {
        self.init(
            username: username, sessionID: String(sessionID), sessionVersion: sessionVersion,
            addressType: SDPConnection.addressType(of: address), address: address)
    }
}

/// A `c=` line (RFC 8866 §5.7). For multicast the address keeps its `/ttl/count` suffix.
public struct SDPConnection: Sendable, Hashable {
    public var networkType: String
    public var addressType: String
    public var address: String

    public init(networkType: String = "IN", addressType: String, address: String) {
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }

    /// An `IN` connection whose address type follows from the address.
    public init(address: String) {
        self.init(addressType: Self.addressType(of: address), address: address)
    }

    /// `IP6` for addresses containing a colon, otherwise `IP4`.
    public static func addressType(of address: String) -> String {
        address.contains(":") ? "IP6" : "IP4"
    }
}

/// A `b=` line (RFC 8866 §5.8): `CT`, `AS`, `TIAS` (RFC 3890), `RS`/`RR` (RFC 3556), or others.
public struct SDPBandwidth: Sendable, Hashable {
    public var type: String
    public var value: UInt64

    public init(type: String, value: UInt64) {
        self.type = type
        self.value = value
    }
}

/// A `t=` line and the `r=` lines that follow it (RFC 8866 §5.9, §5.10). Repeat lines are kept
/// as written; Tandem never schedules sessions.
public struct SDPTiming: Sendable, Hashable {
    public var start: UInt64
    public var stop: UInt64
    public var repeats: [String]

    public init(start: UInt64 = 0, stop: UInt64 = 0, repeats: [String] = []) {
        self.start = start
        self.stop = stop
        self.repeats = repeats
    }
}

/// One media description: an `m=` line and the lines up to the next one (RFC 8866 §5.14).
public struct MediaDescription: Sendable, Hashable {
    /// `audio`, `video`, `application`, …
    public var media: String
    /// 0 rejects or disables the stream (RFC 3264 §6).
    public var port: Int
    /// The `/count` of `m=audio 49170/2 …`, if written.
    public var portCount: Int?
    /// `RTP/AVP`, `UDP/TLS/RTP/SAVPF`, `UDP/DTLS/SCTP`, …
    public var proto: String
    /// Payload type numbers for RTP protocols; other strings otherwise.
    public var formats: [String]
    public var information: String?
    public var connections: [SDPConnection]
    public var bandwidths: [SDPBandwidth]
    public var encryptionKey: String?
    public var attributes: [SDPAttribute]

    public init(
        media: String, port: Int, portCount: Int? = nil, proto: String, formats: [String],
        information: String? = nil, connections: [SDPConnection] = [], bandwidths: [SDPBandwidth] = [],
        encryptionKey: String? = nil, attributes: [SDPAttribute] = []
    ) {
        self.media = media
        self.port = port
        self.portCount = portCount
        self.proto = proto
        self.formats = formats
        self.information = information
        self.connections = connections
        self.bandwidths = bandwidths
        self.encryptionKey = encryptionKey
        self.attributes = attributes
    }
}

/// A whole session description (RFC 8866 §5).
public struct SessionDescription: Sendable, Hashable {
    /// `v=`; always 0.
    public var version: Int
    public var origin: SDPOrigin
    /// `s=`; `-` when there is nothing to say.
    public var sessionName: String
    public var information: String?
    public var uri: String?
    public var emails: [String]
    public var phones: [String]
    public var connection: SDPConnection?
    public var bandwidths: [SDPBandwidth]
    /// At least one `t=` line is written; `t=0 0` when this is empty.
    public var timings: [SDPTiming]
    /// The `z=` line as written.
    public var timeZones: String?
    /// The obsolete `k=` line as written.
    public var encryptionKey: String?
    public var attributes: [SDPAttribute]
    public var media: [MediaDescription]

    public init(
        version: Int = 0, origin: SDPOrigin, sessionName: String = "-", information: String? = nil,
        uri: String? = nil, emails: [String] = [], phones: [String] = [], connection: SDPConnection? = nil,
        bandwidths: [SDPBandwidth] = [], timings: [SDPTiming] = [SDPTiming()], timeZones: String? = nil,
        encryptionKey: String? = nil, attributes: [SDPAttribute] = [], media: [MediaDescription] = []
    ) {
        self.version = version
        self.origin = origin
        self.sessionName = sessionName
        self.information = information
        self.uri = uri
        self.emails = emails
        self.phones = phones
        self.connection = connection
        self.bandwidths = bandwidths
        self.timings = timings
        self.timeZones = timeZones
        self.encryptionKey = encryptionKey
        self.attributes = attributes
        self.media = media
    }
}
