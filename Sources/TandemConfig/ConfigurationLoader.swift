// Loads `tandem.yaml` and the profile files it includes (by glob, relative to the including
// file), turns them into a TandemConfiguration with defaults filled in, and validates it
// (ConfigurationValidator). Every problem is reported as `file:line: key: message`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DTLS
import Foundation
import SDP
import SIP
import Yams

/// A configuration that loaded without errors, and the warnings found on the way.
public struct LoadedConfiguration: Sendable {
    public var configuration: TandemConfiguration
    public var warnings: [ConfigDiagnostic]
}

/// Reads and validates configuration files.
public struct ConfigurationLoader: Sendable {
    /// Where `tandemd` looks when no path is given.
    public static let defaultPath = "/etc/tandem/tandem.yaml"

    /// Keys that may appear in profile files (and in the main file).
    static let profileSections = ["dtls_profiles", "codec_profiles", "trunks", "web", "users", "dial_plan"]

    public init() {}

    /// Loads the main file at `path` and everything it includes.
    /// - Throws: `ConfigurationError` listing every problem, when there is at least one error.
    public func load(path: String) throws(ConfigurationError) -> LoadedConfiguration {
        let log = DiagnosticLog()
        let configuration = read(path: path, log: log)
        if let configuration {
            ConfigurationValidator(configuration: configuration, log: log).validate()
        }
        guard let configuration, !log.hasErrors else {
            throw ConfigurationError(diagnostics: log.entries)
        }
        return LoadedConfiguration(configuration: configuration, warnings: log.entries)
    }

    // MARK: Files

    /// Parses one YAML file into its root node; reports syntax errors with their line.
    private func parseFile(_ path: String, log: DiagnosticLog) -> Node? {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            log.error(path, 0, "", "cannot read file: \(ConfigurationLoader.reason(path: path))")
            return nil
        }
        do {
            guard let root = try Yams.compose(yaml: text) else {
                return Node.mapping(Node.Mapping([]))  // an empty file is an empty mapping
            }
            return root
        } catch let error as YamlError {
            switch error {
            case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
                let .composer(context, problem, mark, _):
                let detail = context.map { "\(problem) (\($0.text) at line \($0.mark.line))" } ?? problem
                log.error(path, mark.line, "", "YAML syntax error: \(detail)")
            case let .duplicatedKeysInMapping(duplicates, context):
                log.error(path, context.mark.line, duplicates.joined(separator: ", "), "duplicate key in mapping")
            default:
                log.error(path, 0, "", "YAML error: \(error)")
            }
            return nil
        } catch {
            log.error(path, 0, "", "YAML error: \(error)")
            return nil
        }
    }

    static func reason(path: String) -> String {
        if access(path, F_OK) != 0 { return "no such file" }
        if access(path, R_OK) != 0 { return "permission denied" }
        return "not readable as UTF-8 text"
    }

    /// Resolves `path` against the directory of `file` unless it is absolute.
    static func resolve(_ path: String, relativeTo file: String) -> String {
        if path.hasPrefix("/") { return path }
        let directory = (file as NSString).deletingLastPathComponent
        return directory.isEmpty ? path : (directory as NSString).appendingPathComponent(path)
    }

    /// Expands an include pattern; a pattern with no wildcard must name an existing file.
    private func expand(_ pattern: String, location: SourceLocation, log: DiagnosticLog) -> [String] {
        let hasWildcard = pattern.contains { "*?[".contains($0) }
        if !hasWildcard {
            if access(pattern, F_OK) != 0 {
                log.error(at: location, "included file \(pattern) does not exist")
                return []
            }
            return [pattern]
        }
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { index in
            result.gl_pathv[index].map { String(cString: $0) }
        }.sorted()
    }

    // MARK: Main file

    private func read(path: String, log: DiagnosticLog) -> TandemConfiguration? {
        guard let root = parseFile(path, log: log) else { return nil }
        guard let main = MappingReader(root, file: path, path: "", log: log) else { return nil }

        var sections = ProfileSections()
        var included: [String] = []
        let defaults = TandemConfiguration.defaults(file: path)

        let node = main.string("node") ?? defaults.node
        let advertised = main.string("advertised_address")
        let sip = readSIP(main)
        var media = readMedia(main)
        // A wildcard media interface with no advertised address of its own advertises the node's,
        // when that is an IP address (SDP and ICE candidates carry addresses, not names).
        if let advertised, let bytes = IPAddressBytes(advertised), !bytes.isUnspecified {
            for index in media.interfaces.indices where media.interfaces[index].advertisedAddress == nil
                && IPAddressBytes(media.interfaces[index].address)?.isUnspecified == true {
                media.interfaces[index].advertisedAddress = advertised
            }
        }
        let workers = main.int("workers", in: 0...256, default: 0)
        let control = readControl(main)
        let http = readHTTP(main)
        var logLevel = defaults.logLevel
        if let logSection = main.mapping("log") {
            logLevel = logSection.choice("level", default: defaults.logLevel)
            logSection.finish()
        }
        let drain = main.duration("drain_timeout", in: .zero ... .seconds(3600), default: defaults.drainTimeout)
        if drain > TandemConfiguration.drainTimeoutCeiling {
            main.warning("drain_timeout", "\(drain.components.seconds)s is over \(TandemConfiguration.drainTimeoutCeiling.components.seconds / 60) minutes: "
                + "every stop and restart waits that long for calls to end (under systemd, tandemd extends the unit's stop timeout to match)")
        }
        let cdrFile = main.string("cdr_file").map { ConfigurationLoader.resolve($0, relativeTo: main.file) }
        let testEndpoints = readTestEndpoints(main)
        let trace = readTrace(main)

        readProfiles(main, into: &sections)
        for item in main.stringList("include") ?? [] {
            let pattern = ConfigurationLoader.resolve(item.value, relativeTo: path)
            for file in expand(pattern, location: item.location, log: log) where file != path {
                if included.contains(file) { continue }
                included.append(file)
                guard let node = parseFile(file, log: log) else { continue }
                guard let profile = MappingReader(node, file: file, path: "", log: log) else { continue }
                readProfiles(profile, into: &sections)
                profile.finish()
            }
        }
        main.finish()

        // Web users and trunks that name no media interface use the first one.
        let firstInterface = media.interfaces.first?.name ?? "default"
        var web = sections.web ?? defaults.web
        if web.mediaInterface.isEmpty { web.mediaInterface = firstInterface }
        let trunks = sections.trunks.map { trunk in
            var trunk = trunk
            if trunk.mediaInterface.isEmpty { trunk.mediaInterface = firstInterface }
            return trunk
        }

        var configuration = TandemConfiguration(
            file: path, includedFiles: included, node: node, advertisedAddress: advertised,
            sip: sip, media: media, workers: workers, control: control, http: http,
            logLevel: logLevel, drainTimeout: drain,
            dtlsProfiles: ConfigurationLoader.withBuiltins(sections.dtlsProfiles, TandemConfiguration.builtinDTLSProfiles),
            codecProfiles: ConfigurationLoader.withBuiltins(sections.codecProfiles, TandemConfiguration.builtinCodecProfiles),
            trunks: trunks, web: web, users: sections.users,
            dialPlan: sections.dialPlan)
        configuration.cdrFile = cdrFile
        configuration.testEndpoints = testEndpoints
        configuration.trace = trace
        return configuration
    }

    /// Built-in profiles stay available unless a file defines one with the same name.
    static func withBuiltins<P: NamedProfile>(_ defined: [P], _ builtins: [P]) -> [P] {
        builtins.filter { builtin in !defined.contains { $0.name == builtin.name } } + defined
    }

    private func readSIP(_ main: MappingReader) -> SIPSettings {
        let defaults = TandemConfiguration.defaults(file: main.file).sip
        guard let section = main.mapping("sip") else { return defaults }
        defer { section.finish() }
        var listeners: [SIPListener] = []
        if section.has("listeners") {
            for item in section.sequence("listeners") {
                guard let entry = main.reader(for: item) else { continue }
                let transport: SIPTransportKind = entry.choice("transport") ?? {
                    if !entry.has("transport") { entry.log.error(at: entry.mappingLocation.with(key: entry.keyPath("transport")), "is required") }
                    return .udp
                }()
                listeners.append(SIPListener(
                    transport: transport,
                    address: entry.string("address", default: "127.0.0.1"),
                    port: entry.int("port", in: 0...65535, default: transport.defaultPort),
                    advertisedAddress: entry.string("advertised_address"),
                    certificate: entry.string("certificate").map { ConfigurationLoader.resolve($0, relativeTo: main.file) },
                    privateKey: entry.string("private_key").map { ConfigurationLoader.resolve($0, relativeTo: main.file) },
                    location: entry.mappingLocation))
                entry.finish()
            }
        }
        if listeners.isEmpty && section.node("listeners")?.sequence == nil {
            listeners = defaults.listeners  // absent, or not a list (already reported)
        }
        return SIPSettings(listeners: listeners, userAgent: section.string("user_agent", default: defaults.userAgent),
                           maxUDPMessageSize: section.int("max_udp_message_size", in: 1024...65_507, default: defaults.maxUDPMessageSize),
                           maxConnections: section.int("max_connections", in: 1...1_000_000, default: defaults.maxConnections),
                           maxConnectionsPerSource: section.int("max_connections_per_source", in: 1...1_000_000, default: defaults.maxConnectionsPerSource),
                           firstMessageTimeout: section.duration("first_message_timeout", in: .seconds(1) ... .seconds(3600), default: defaults.firstMessageTimeout))
    }

    private func readMedia(_ main: MappingReader) -> MediaSettings {
        let defaults = TandemConfiguration.defaults(file: main.file).media
        guard let section = main.mapping("media") else { return defaults }
        defer { section.finish() }
        var settings = defaults
        settings.rtpTimeout = section.duration("rtp_timeout", in: .seconds(5) ... .seconds(3600), default: defaults.rtpTimeout)
        settings.strictSource = section.bool("strict_source", default: defaults.strictSource)
        settings.maxLoad = section.int("max_load", in: 1...100, default: defaults.maxLoad)
        settings.transcodedReadInterval = section.duration("transcoded_read_interval", in: .zero ... .milliseconds(20),
                                                           default: defaults.transcodedReadInterval)
        settings.relayedReadInterval = section.duration("relayed_read_interval", in: .zero ... .milliseconds(20),
                                                        default: defaults.relayedReadInterval)
        guard section.has("interfaces") else {
            _ = section.node("interfaces")
            return settings
        }
        var interfaces: [MediaInterface] = []
        for item in section.sequence("interfaces") {
            guard let entry = main.reader(for: item) else { continue }
            interfaces.append(MediaInterface(
                name: entry.string("name", default: "default"),
                address: entry.requiredString("address") ?? "127.0.0.1",
                advertisedAddress: entry.string("advertised_address"),
                portMin: entry.int("port_min", in: 1024...65535, default: 20000),
                portMax: entry.int("port_max", in: 1024...65535, default: 29999),
                location: entry.mappingLocation))
            entry.finish()
        }
        settings.interfaces = interfaces
        return settings
    }

    private func readControl(_ main: MappingReader) -> ControlSettings {
        let defaults = TandemConfiguration.defaults(file: main.file).control
        guard let section = main.mapping("control") else { return defaults }
        defer { section.finish() }
        var mode = defaults.mode
        if let text = section.string("mode") {
            if let parsed = UInt16(text, radix: 8), parsed <= 0o777 {
                mode = parsed
            } else {
                section.error("mode", "expected octal permission bits such as \"0660\", found '\(text)'")
            }
        }
        let socket = section.string("socket").map { ConfigurationLoader.resolve($0, relativeTo: main.file) }
        return ControlSettings(socketPath: socket ?? defaults.socketPath, mode: mode, socketPathIsDefault: socket == nil)
    }

    private func readTestEndpoints(_ main: MappingReader) -> TestEndpointSettings? {
        guard let section = main.mapping("test_endpoints") else { return nil }
        defer { section.finish() }
        guard section.bool("enabled", default: true) else {
            _ = (section.node("address"), section.node("port"), section.node("rtp_port_min"), section.node("rtp_port_max"))
            return nil
        }
        let defaults = TestEndpointSettings(location: section.mappingLocation)
        return TestEndpointSettings(
            address: section.string("address", default: defaults.address),
            port: section.int("port", in: 0...65535, default: defaults.port),
            rtpPortMin: section.int("rtp_port_min", in: 1024...65535, default: defaults.rtpPortMin),
            rtpPortMax: section.int("rtp_port_max", in: 1024...65535, default: defaults.rtpPortMax),
            location: section.mappingLocation)
    }

    private func readHTTP(_ main: MappingReader) -> HTTPListener? {
        guard let section = main.mapping("http") else { return nil }
        defer { section.finish() }
        guard section.bool("enabled", default: true) else {
            _ = (section.node("address"), section.node("port"), section.node("demo_phone"))
            return nil
        }
        return HTTPListener(
            address: section.string("address", default: "127.0.0.1"),
            port: section.int("port", in: 0...65535, default: 9090),
            demoPhone: section.bool("demo_phone", default: false),
            location: section.mappingLocation)
    }

    // MARK: Profile sections

    private struct ProfileSections {
        var dtlsProfiles: [DTLSProfile] = []
        var codecProfiles: [CodecProfile] = []
        var trunks: [Trunk] = []
        var web: WebSettings?
        var users: [WebUser] = []
        var dialPlan: [DialPlanRule] = []
    }

    private func readProfiles(_ file: MappingReader, into sections: inout ProfileSections) {
        for item in file.sequence("dtls_profiles") {
            guard let entry = file.reader(for: item) else { continue }
            if let profile = readDTLSProfile(entry) { sections.dtlsProfiles.append(profile) }
            entry.finish()
        }
        for item in file.sequence("codec_profiles") {
            guard let entry = file.reader(for: item) else { continue }
            if let profile = readCodecProfile(entry) { sections.codecProfiles.append(profile) }
            entry.finish()
        }
        for item in file.sequence("trunks") {
            guard let entry = file.reader(for: item) else { continue }
            if let trunk = readTrunk(entry) { sections.trunks.append(trunk) }
            entry.finish()
        }
        if let web = file.mapping("web") {
            if let earlier = sections.web {
                web.log.error(at: web.mappingLocation, "web settings are already given at \(earlier.location)")
            } else {
                sections.web = readWeb(web)
            }
            web.finish()
        }
        for item in file.sequence("users") {
            guard let entry = file.reader(for: item) else { continue }
            if let user = readUser(entry) { sections.users.append(user) }
            entry.finish()
        }
        for (index, item) in file.sequence("dial_plan").enumerated() {
            guard let entry = file.reader(for: item) else { continue }
            if let rule = readRule(entry, index: sections.dialPlan.count + index) { sections.dialPlan.append(rule) }
            entry.finish()
        }
    }
}
