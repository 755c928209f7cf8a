// The typed configuration of one Tandem node: what `config/tandem.yaml` and the profile files it
// includes say, with every default filled in. Built once by `ConfigurationLoader`, validated, and
// passed down; nothing below the daemon reads YAML.

import DTLS
import SDP
import SIP

/// A whole node's configuration.
public struct TandemConfiguration: Sendable, Equatable {
    /// The main file, as given to the loader.
    public var file: String
    /// The profile files included from the main file, in load order.
    public var includedFiles: [String]

    /// The node's name: in logs, status, CDRs and the `Server`/`User-Agent` header.
    public var node: String
    /// The address put in SIP headers and SDP when no listener or interface sets its own
    /// (a public address in front of NAT, or a DNS name for signaling).
    public var advertisedAddress: String?
    public var sip: SIPSettings
    public var media: MediaSettings
    /// Event-loop threads for calls; 0 means one per CPU core.
    public var workers: Int
    public var control: ControlSettings
    /// The operators' HTTP listener (metrics, health); nil when disabled.
    public var http: HTTPListener?
    public var logLevel: LogLevel
    /// How long SIGTERM waits for calls to end before ending the rest.
    public var drainTimeout: Duration
    /// Above this, `--check-config` warns that stops and restarts wait very long.
    public static let drainTimeoutCeiling: Duration = .seconds(600)

    public var dtlsProfiles: [DTLSProfile]
    public var codecProfiles: [CodecProfile]
    public var trunks: [Trunk]
    public var web: WebSettings
    public var users: [WebUser]
    public var dialPlan: [DialPlanRule]
    /// Where one JSON line per ended call is appended (reopened on reload); nil: no CDRs.
    public var cdrFile: String? = nil
    /// The built-in test endpoints (echo, tone, dtmf, busy, noanswer); nil: off.
    public var testEndpoints: TestEndpointSettings? = nil
    /// The SIP trace (log and HEP export) as configured; tandemctl trace changes it at run time.
    public var trace = TraceSettings()

    public func dtlsProfile(named name: String) -> DTLSProfile? { dtlsProfiles.first { $0.name == name } }
    public func codecProfile(named name: String) -> CodecProfile? { codecProfiles.first { $0.name == name } }
    public func trunk(named name: String) -> Trunk? { trunks.first { $0.name == name } }
    public func mediaInterface(named name: String) -> MediaInterface? {
        media.interfaces.first { $0.name == name }
    }
}

/// Log verbosity, in swift-log's order.
public enum LogLevel: String, Sendable, CaseIterable, Equatable {
    case trace, debug, info, notice, warning, error, critical
}

// MARK: - Listeners

public struct SIPSettings: Sendable, Equatable {
    public var listeners: [SIPListener]
    /// The `User-Agent` / `Server` header value.
    public var userAgent: String
    /// The largest UDP datagram read as SIP (`sip.max_udp_message_size`); bigger ones are
    /// dropped before parsing.
    public var maxUDPMessageSize: Int = 8192
    /// Inbound TCP, TLS and WebSocket connections open at once (`sip.max_connections`).
    public var maxConnections: Int = 4096
    /// Inbound connections open at once from one address (`sip.max_connections_per_source`).
    public var maxConnectionsPerSource: Int = 256
    /// How long an inbound connection may take to send its first SIP message
    /// (`sip.first_message_timeout`).
    public var firstMessageTimeout: Duration = .seconds(30)
}

/// A socket on which Tandem accepts SIP.
public struct SIPListener: Sendable, Equatable {
    public var transport: SIPTransportKind
    public var address: String
    /// The port to bind; 0 asks the kernel for a free one (useful in tests).
    public var port: Int
    /// The address to put in Via/Contact/Record-Route for this listener, if not the bound one.
    public var advertisedAddress: String?
    /// PEM certificate chain and private key, for `tls` and `wss`.
    public var certificate: String?
    public var privateKey: String?
    public var location: SourceLocation

    /// Identity for comparing listeners across reloads, without source positions.
    public var endpoint: String { "\(transport.rawValue)://\(address):\(port)" }
}

/// The operators' HTTP listener: Prometheus metrics and health checks.
public struct HTTPListener: Sendable, Equatable {
    public var address: String
    public var port: Int
    /// Whether `/phone/` serves the demo web phone (off unless asked for).
    public var demoPhone: Bool
    public var location: SourceLocation

    public init(address: String, port: Int, demoPhone: Bool = false, location: SourceLocation) {
        self.address = address
        self.port = port
        self.demoPhone = demoPhone
        self.location = location
    }
}

/// The Unix-domain control socket `tandemctl` talks to.
public struct ControlSettings: Sendable, Equatable {
    public var socketPath: String
    /// File mode bits for the socket (e.g. 0o660).
    public var mode: UInt16
    /// Whether `socketPath` is the default (no `control.socket` in the file): tandemd may then
    /// use a per-user path when it cannot create the default one.
    public var socketPathIsDefault: Bool = false

    public init(socketPath: String, mode: UInt16, socketPathIsDefault: Bool = false) {
        self.socketPath = socketPath
        self.mode = mode
        self.socketPathIsDefault = socketPathIsDefault
    }
}

/// The built-in test endpoints: a SIP user agent inside tandemd, reached like any trunk.
public struct TestEndpointSettings: Sendable, Equatable {
    /// Address its SIP and RTP sockets bind (loopback unless a remote PBX should reach it).
    public var address: String
    /// Its SIP (UDP) port.
    public var port: Int
    /// The RTP ports of its calls (even ports; one call each).
    public var rtpPortMin: Int
    public var rtpPortMax: Int
    public var location: SourceLocation

    public init(address: String = "127.0.0.1", port: Int = 5099, rtpPortMin: Int = 30000, rtpPortMax: Int = 30099,
                location: SourceLocation) {
        self.address = address
        self.port = port
        self.rtpPortMin = rtpPortMin
        self.rtpPortMax = rtpPortMax
        self.location = location
    }
}

// MARK: - Media

public struct MediaSettings: Sendable, Equatable {
    public var interfaces: [MediaInterface]
    /// No RTP from a trunk for this long (while it should be sending) ends the call.
    public var rtpTimeout: Duration = .seconds(60)
    /// Only accept RTP from the address in the trunk's SDP (no latching).
    public var strictSource: Bool = false
    /// Admission control: new calls get 503 when every worker loop is over this share
    /// of one CPU (percent).
    public var maxLoad: Int = 85
    /// How often the sockets of a transcoded (and of a relayed) call are read, in batches; zero
    /// reads each datagram as it arrives. Batching saves most of a packet's wake-up cost and adds
    /// up to the interval in latency.
    public var transcodedReadInterval: Duration = .milliseconds(10)
    public var relayedReadInterval: Duration = .zero

    public init(interfaces: [MediaInterface], rtpTimeout: Duration = .seconds(60), strictSource: Bool = false, maxLoad: Int = 85) {
        self.interfaces = interfaces
        self.rtpTimeout = rtpTimeout
        self.strictSource = strictSource
        self.maxLoad = maxLoad
    }
}

/// An address and UDP port range media sockets are opened on.
public struct MediaInterface: Sendable, Equatable {
    public var name: String
    public var address: String
    /// The address written into SDP, if not the bound one (NAT, public IP).
    public var advertisedAddress: String?
    public var portMin: Int
    public var portMax: Int
    public var location: SourceLocation

    public var portCount: Int { portMax - portMin + 1 }
}

// MARK: - Profiles

/// DTLS-SRTP settings for WebRTC legs.
public struct DTLSProfile: Sendable, Equatable {
    public enum CertificateSource: Sendable, Equatable {
        /// A fresh self-signed ECDSA P-256 certificate made at start (what browsers expect).
        case generated
        /// PEM files on disk.
        case files(certificate: String, privateKey: String)
    }

    public var name: String
    public var certificate: CertificateSource
    public var fingerprintHash: FingerprintHash
    /// SRTP protection profiles offered or accepted, in preference order.
    public var srtpProfiles: [SRTPProtectionProfile]
    public var location: SourceLocation
}

/// Opus encoder settings for transcoded legs.
public struct OpusSettings: Sendable, Equatable {
    public var bitrate: Int
    public var inbandFEC: Bool
    public var dtx: Bool
    public var complexity: Int

    public static let standard = OpusSettings(bitrate: 32000, inbandFEC: true, dtx: false, complexity: 5)
}

/// An ordered codec list with packetization, used for offers and answers on a leg.
public struct CodecProfile: Sendable, Equatable {
    public var name: String
    /// Codecs in preference order; `telephone-event` enables RFC 4733 DTMF.
    public var codecs: [AudioCodecName]
    /// Packetization time in milliseconds.
    public var ptime: Int
    public var opus: OpusSettings
    public var location: SourceLocation
}

/// How DTMF is carried toward a trunk.
public enum DTMFMode: String, Sendable, CaseIterable, Equatable {
    /// RFC 4733 telephone-event packets.
    case rfc4733
    /// Tones in the audio itself.
    case inband
    /// SIP INFO with application/dtmf-relay.
    case info
}

/// Credentials Tandem answers a trunk's digest challenge with.
public struct TrunkCredentials: Sendable, Equatable {
    public var username: String
    public var password: String
    /// The realm to answer; nil answers any realm the trunk names.
    public var realm: String?

    public init(username: String, password: String, realm: String? = nil) {
        self.username = username
        self.password = password
        self.realm = realm
    }
}

/// An IPv4 or IPv6 network in CIDR form.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddressBytes
    public var prefixLength: Int

    public var description: String { "\(address)/\(prefixLength)" }

    /// Whether `other` lies inside this network.
    public func contains(_ other: IPAddressBytes) -> Bool {
        guard other.isIPv6 == address.isIPv6 else { return false }
        var remaining = prefixLength
        for (a, b) in zip(address.bytes, other.bytes) {
            if remaining <= 0 { return true }
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if a & mask != b & mask { return false }
            remaining -= bits
        }
        return true
    }
}

/// A SIP trunk or PBX Tandem sends calls to and accepts calls from.
public struct Trunk: Sendable, Equatable {
    public var name: String
    /// Host name or IP address of the trunk's SIP server.
    public var address: String
    public var port: Int
    public var transport: SIPTransportKind
    /// Sources INVITEs are accepted from; anything else gets 403.
    public var allowedSources: [IPNetwork]
    public var credentials: TrunkCredentials?
    /// Whether Tandem keeps a registration with the trunk.
    public var register: Bool
    public var registerExpires: Int
    public var codecProfile: String
    public var mediaInterface: String
    public var dtmf: DTMFMode
    /// Seconds between OPTIONS pings; 0 disables them.
    public var optionsInterval: Int
    /// Concurrent call limit; 0 means no limit.
    public var maxCalls: Int
    /// New calls per second, either way, with a burst of one second's worth; 0 means no limit.
    public var maxCallsPerSecond: Double
    public var location: SourceLocation

    public init(
        name: String, address: String, port: Int = 5060, transport: SIPTransportKind = .udp, allowedSources: [IPNetwork],
        credentials: TrunkCredentials? = nil, register: Bool = false, registerExpires: Int = 3600, codecProfile: String = "g711",
        mediaInterface: String = "default", dtmf: DTMFMode = .rfc4733, optionsInterval: Int = 30, maxCalls: Int = 0,
        maxCallsPerSecond: Double = 0, location: SourceLocation = SourceLocation(file: "", line: 0, key: "trunks")
    ) {
        self.maxCallsPerSecond = maxCallsPerSecond
        self.name = name
        self.address = address
        self.port = port
        self.transport = transport
        self.allowedSources = allowedSources
        self.credentials = credentials
        self.register = register
        self.registerExpires = registerExpires
        self.codecProfile = codecProfile
        self.mediaInterface = mediaInterface
        self.dtmf = dtmf
        self.optionsInterval = optionsInterval
        self.maxCalls = maxCalls
        self.location = location
    }
}

/// Settings for WebRTC users (browsers).
public struct WebSettings: Sendable, Equatable {
    /// Digest realm for web users.
    public var realm: String
    public var dtlsProfile: String
    public var codecProfile: String
    public var mediaInterface: String
    public var minExpires: Int
    public var maxExpires: Int
    /// Digest algorithms challenged with, in header order. SHA-256 first and MD5 last by default:
    /// RFC 8760 clients take the topmost they support, while JsSIP and SIP.js keep only the last
    /// `WWW-Authenticate` they parse and support only MD5 (docs/interop.md#digest).
    public var digestAlgorithms: [DigestAlgorithm]
    public var location: SourceLocation

    public init(realm: String, dtlsProfile: String = "default", codecProfile: String = "webrtc", mediaInterface: String = "default",
                minExpires: Int = 60, maxExpires: Int = 3600, digestAlgorithms: [DigestAlgorithm] = [.md5, .sha256],
                location: SourceLocation = SourceLocation(file: "", line: 0, key: "web")) {
        self.digestAlgorithms = digestAlgorithms
        self.realm = realm
        self.dtlsProfile = dtlsProfile
        self.codecProfile = codecProfile
        self.mediaInterface = mediaInterface
        self.minExpires = minExpires
        self.maxExpires = maxExpires
        self.location = location
    }
}

/// A browser user that may register and place calls.
public struct WebUser: Sendable, Equatable {
    public var username: String
    public var password: String
    public var displayName: String?
    public var maxRegistrations: Int
    public var location: SourceLocation

    public init(username: String, password: String, displayName: String? = nil, maxRegistrations: Int = 5,
                location: SourceLocation = SourceLocation(file: "", line: 0, key: "users")) {
        self.username = username
        self.password = password
        self.displayName = displayName
        self.maxRegistrations = maxRegistrations
        self.location = location
    }
}

/// A dial-plan rule: calls from web users whose dialled number matches `pattern` go to `trunk`,
/// with the number rewritten by `rewrite` (`$1`… are the pattern's capture groups).
public struct DialPlanRule: Sendable, Equatable {
    public var name: String
    /// A regular expression the whole dialled number must match.
    public var pattern: String
    /// The trunks a call may take, in the order they are tried: one that is down (OPTIONS),
    /// at `max_calls` or over `max_calls_per_second` is passed over for the next.
    public var trunks: [String]
    /// Replacement template; nil leaves the number as dialled.
    public var rewrite: String?
    public var location: SourceLocation

    /// The first choice.
    public var trunk: String { trunks.first ?? "" }

    public init(name: String, pattern: String, trunk: String, rewrite: String? = nil,
                location: SourceLocation = SourceLocation(file: "", line: 0, key: "dial_plan")) {
        self.init(name: name, pattern: pattern, trunks: [trunk], rewrite: rewrite, location: location)
    }

    public init(name: String, pattern: String, trunks: [String], rewrite: String? = nil,
                location: SourceLocation = SourceLocation(file: "", line: 0, key: "dial_plan")) {
        self.name = name
        self.pattern = pattern
        self.trunks = trunks
        self.rewrite = rewrite
        self.location = location
    }
}
