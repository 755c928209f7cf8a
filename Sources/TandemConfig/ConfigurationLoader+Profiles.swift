// Readers for the profile sections (DTLS and codec profiles, trunks, web settings, users, dial
// plan), which may appear in the main file or in any included profile file.

import DTLS
import SDP
import SIP

extension ConfigurationLoader {
    func readDTLSProfile(_ entry: MappingReader) -> DTLSProfile? {
        guard let name = entry.requiredString("name") else { return nil }
        let certificate: DTLSProfile.CertificateSource
        let certificateText = entry.string("certificate", default: "auto")
        let key = entry.string("private_key")
        if certificateText == "auto" {
            certificate = .generated
            if key != nil { entry.error("private_key", "is only used with a certificate file (certificate is 'auto')") }
        } else if let key {
            certificate = .files(
                certificate: ConfigurationLoader.resolve(certificateText, relativeTo: entry.file),
                privateKey: ConfigurationLoader.resolve(key, relativeTo: entry.file))
        } else {
            entry.error("private_key", "is required when certificate names a file")
            certificate = .generated
        }
        let srtp: [SRTPProtectionProfile] =
            entry.choiceList("srtp_profiles", noun: "SRTP profile", spelling: { $0.uppercased() })
            ?? TandemConfiguration.defaultSRTPProfiles
        return DTLSProfile(
            name: name, certificate: certificate,
            fingerprintHash: entry.choice("fingerprint_hash", default: .sha256),
            srtpProfiles: srtp, location: entry.mappingLocation)
    }

    func readCodecProfile(_ entry: MappingReader) -> CodecProfile? {
        guard let name = entry.requiredString("name") else { return nil }
        let codecs: [AudioCodecName] = entry.choiceList("codecs", noun: "codec", spelling: { $0.lowercased() }) ?? {
            _ = entry.requiredString("codecs")
            return []
        }()
        if !codecs.isEmpty && !codecs.contains(where: \.isAudio) {
            entry.error("codecs", "must name at least one audio codec (opus, pcmu or pcma)")
        }
        let ptime = entry.int("ptime", in: 10...120, default: 20)
        if ptime % 10 != 0 { entry.error("ptime", "must be a multiple of 10 ms, found \(ptime)") }
        var opus = OpusSettings.standard
        if let section = entry.mapping("opus") {
            opus = OpusSettings(
                bitrate: section.int("bitrate", in: 6000...510_000, default: opus.bitrate),
                inbandFEC: section.bool("fec", default: opus.inbandFEC),
                dtx: section.bool("dtx", default: opus.dtx),
                complexity: section.int("complexity", in: 0...10, default: opus.complexity))
            section.finish()
        }
        return CodecProfile(name: name, codecs: codecs, ptime: ptime, opus: opus, location: entry.mappingLocation)
    }

    func readTrunk(_ entry: MappingReader) -> Trunk? {
        guard let name = entry.requiredString("name") else { return nil }
        let address = entry.requiredString("address") ?? ""
        let transport: SIPTransportKind = entry.choice("transport", default: .udp)
        if transport.isWebSocket {
            entry.error("transport", "a trunk uses udp, tcp or tls, not \(transport.rawValue)")
        }
        var sources: [IPNetwork] = []
        if let list = entry.stringList("allowed_sources") {
            for item in list {
                guard let network = IPNetwork(cidr: item.value) else {
                    entry.log.error(at: item.location, "'\(item.value)' is not an IP address or CIDR network")
                    continue
                }
                sources.append(network)
            }
        } else if let literal = IPAddressBytes(address) {
            sources = [IPNetwork(address: literal, prefixLength: literal.isIPv6 ? 128 : 32)]
        } else if !address.isEmpty {
            entry.error("allowed_sources", "is required when the address is a host name (\(address)); Tandem never accepts calls from anywhere")
        }
        var credentials: TrunkCredentials?
        if let section = entry.mapping("credentials") {
            if let username = section.requiredString("username"), let password = section.requiredString("password") {
                credentials = TrunkCredentials(username: username, password: password, realm: section.string("realm"))
            }
            section.finish()
        }
        let register = entry.bool("register", default: false)
        if register && credentials == nil {
            entry.error("register", "registration needs credentials")
        }
        return Trunk(
            name: name, address: address,
            port: entry.int("port", in: 1...65535, default: transport.defaultPort),
            transport: transport, allowedSources: sources, credentials: credentials,
            register: register,
            registerExpires: entry.int("register_expires", in: 60...86400, default: 3600),
            codecProfile: entry.string("codec_profile", default: "g711"),
            mediaInterface: entry.string("media_interface", default: ""),
            dtmf: entry.choice("dtmf", default: .rfc4733),
            optionsInterval: entry.int("options_interval", in: 0...3600, default: 30),
            maxCalls: entry.int("max_calls", in: 0...100_000, default: 0),
            maxCallsPerSecond: entry.number("max_calls_per_second", in: 0...10_000, default: 0),
            location: entry.mappingLocation)
    }

    func readWeb(_ entry: MappingReader) -> WebSettings {
        let defaults = TandemConfiguration.defaults(file: entry.file).web
        let minExpires = entry.int("min_expires", in: 10...86400, default: defaults.minExpires)
        let maxExpires = entry.int("max_expires", in: 10...86400, default: defaults.maxExpires)
        if minExpires > maxExpires {
            entry.error("min_expires", "\(minExpires) is greater than max_expires (\(maxExpires))")
        }
        return WebSettings(
            realm: entry.string("realm", default: defaults.realm),
            dtlsProfile: entry.string("dtls_profile", default: defaults.dtlsProfile),
            codecProfile: entry.string("codec_profile", default: defaults.codecProfile),
            mediaInterface: entry.string("media_interface", default: defaults.mediaInterface),
            minExpires: minExpires, maxExpires: maxExpires,
            digestAlgorithms: entry.choiceList("digest_algorithms", noun: "digest algorithm", spelling: { DigestAlgorithm(token: $0)?.rawValue ?? $0 })
                ?? defaults.digestAlgorithms,
            location: entry.mappingLocation)
    }

    func readUser(_ entry: MappingReader) -> WebUser? {
        guard let username = entry.requiredString("username") else { return nil }
        let password = entry.requiredString("password") ?? ""
        return WebUser(
            username: username, password: password, displayName: entry.string("display_name"),
            maxRegistrations: entry.int("max_registrations", in: 1...100, default: 5),
            location: entry.mappingLocation)
    }

    func readRule(_ entry: MappingReader, index: Int) -> DialPlanRule? {
        let name = entry.string("name", default: "rule-\(index + 1)")
        // `trunk: name`, or `trunks: [first, second, ...]` tried in order.
        var trunks: [String] = []
        if entry.has("trunks") {
            if entry.has("trunk") { entry.error("trunk", "give either trunk or trunks, not both") }
            trunks = (entry.stringList("trunks") ?? []).map(\.value)
            if trunks.isEmpty { entry.error("trunks", "must name at least one trunk") }
            if Set(trunks).count != trunks.count { entry.error("trunks", "names a trunk twice") }
        } else if let trunk = entry.requiredString("trunk") {
            trunks = [trunk]
        }
        guard let pattern = entry.requiredString("match"), !trunks.isEmpty else {
            return nil
        }
        return DialPlanRule(
            name: name, pattern: pattern, trunks: trunks, rewrite: entry.string("rewrite"),
            location: entry.mappingLocation)
    }
}

/// A profile with a name that references resolve against.
protocol NamedProfile {
    var name: String { get }
}

extension DTLSProfile: NamedProfile {}
extension CodecProfile: NamedProfile {}

extension TandemConfiguration {
    static let defaultSRTPProfiles: [SRTPProtectionProfile] = [
        .aeadAES256GCM, .aeadAES128GCM, .aes128CMSHA1_80, .aes128CMSHA1_32,
    ]

    static let builtinLocation = SourceLocation(file: "(built-in)", line: 0, key: "")

    /// `default`: a generated certificate, SHA-256 fingerprint, every SRTP profile.
    public static let builtinDTLSProfiles = [
        DTLSProfile(
            name: "default", certificate: .generated, fingerprintHash: .sha256,
            srtpProfiles: defaultSRTPProfiles, location: builtinLocation),
    ]

    /// `webrtc` (Opus first, G.711 after) and `g711` (PCMU, PCMA), both with telephone-event.
    public static let builtinCodecProfiles = [
        CodecProfile(
            name: "webrtc", codecs: [.opus, .pcmu, .pcma, .telephoneEvent], ptime: 20, opus: .standard,
            location: builtinLocation),
        CodecProfile(
            name: "g711", codecs: [.pcmu, .pcma, .telephoneEvent], ptime: 20, opus: .standard,
            location: builtinLocation),
    ]

    /// Every default, for a main file of the given path.
    static func defaults(file: String) -> TandemConfiguration {
        let location = SourceLocation(file: file, line: 0, key: "")
        return TandemConfiguration(
            file: file, includedFiles: [], node: hostName(), advertisedAddress: nil,
            sip: SIPSettings(
                listeners: [
                    SIPListener(transport: .udp, address: "127.0.0.1", port: 5060, location: location),
                    SIPListener(transport: .tcp, address: "127.0.0.1", port: 5060, location: location),
                    SIPListener(transport: .ws, address: "127.0.0.1", port: 8080, location: location),
                ],
                userAgent: "Tandem"),
            media: MediaSettings(interfaces: [
                MediaInterface(name: "default", address: "127.0.0.1", portMin: 20000, portMax: 29999, location: location),
            ]),
            workers: 0,
            control: ControlSettings(socketPath: "/run/tandem/control.sock", mode: 0o660, socketPathIsDefault: true),
            http: nil, logLevel: .info, drainTimeout: .seconds(30),
            dtlsProfiles: builtinDTLSProfiles, codecProfiles: builtinCodecProfiles, trunks: [],
            web: WebSettings(
                realm: "tandem", dtlsProfile: "default", codecProfile: "webrtc", mediaInterface: "",
                minExpires: 60, maxExpires: 3600, digestAlgorithms: [.sha256, .md5], location: location.with(key: "web")),
            users: [], dialPlan: [])
    }
}

extension SIPListener {
    init(transport: SIPTransportKind, address: String, port: Int, location: SourceLocation) {
        self.init(
            transport: transport, address: address, port: port, advertisedAddress: nil, certificate: nil,
            privateKey: nil, location: location)
    }
}

extension MediaInterface {
    init(name: String, address: String, portMin: Int, portMax: Int, location: SourceLocation) {
        self.init(name: name, address: address, advertisedAddress: nil, portMin: portMin, portMax: portMax, location: location)
    }
}
