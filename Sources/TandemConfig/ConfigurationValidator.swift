// Cross-checks a whole configuration once it is read: addresses are literals, listener ports and
// media port ranges do not overlap, certificate files exist and match their keys, names are
// unique, and every reference (profiles, trunks, media interfaces) names something defined.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DTLS
import Foundation
import SIP

struct ConfigurationValidator {
    let configuration: TandemConfiguration
    let log: DiagnosticLog

    func validate() {
        checkNode()
        checkListeners()
        checkMedia()
        checkControl()
        checkDTLSProfiles()
        checkUnique(configuration.codecProfiles.map { ($0.name, $0.location) }, what: "codec profile")
        checkTrunks()
        checkWeb()
        checkUsers()
        checkDialPlan()
        checkTestEndpoints()
    }

    // MARK: Test endpoints

    private func checkTestEndpoints() {
        guard let endpoints = configuration.testEndpoints else { return }
        let location = endpoints.location
        let key = location.key
        if IPAddressBytes(endpoints.address) == nil {
            log.error(at: location.with(key: "\(key).address"), "'\(endpoints.address)' is not an IP address")
        }
        guard endpoints.rtpPortMin < endpoints.rtpPortMax else {
            log.error(at: location.with(key: "\(key).rtp_port_min"),
                      "rtp_port_min \(endpoints.rtpPortMin) must be below rtp_port_max \(endpoints.rtpPortMax) (a call needs an even/odd pair)")
            return
        }
        let range = endpoints.rtpPortMin...endpoints.rtpPortMax
        if endpoints.port != 0 && range.contains(endpoints.port) {
            log.error(at: location.with(key: "\(key).port"), "SIP port \(endpoints.port) is inside the endpoints' own RTP range \(range.lowerBound)-\(range.upperBound)")
        }
        for listener in configuration.sip.listeners where listener.transport.usesUDP && addressesOverlap(endpoints.address, listener.address) {
            if endpoints.port != 0 && listener.port == endpoints.port {
                log.error(at: location.with(key: "\(key).port"),
                          "UDP port \(endpoints.port) on \(endpoints.address) is already used by \(listener.location.key) (\(listener.location))")
            }
            if range.contains(listener.port) {
                log.error(at: location.with(key: "\(key).rtp_port_min"),
                          "RTP range \(range.lowerBound)-\(range.upperBound) contains UDP port \(listener.port) of \(listener.location.key) (\(listener.location))")
            }
        }
        for interface in configuration.media.interfaces where addressesOverlap(endpoints.address, interface.address) {
            let media = interface.portMin...max(interface.portMin, interface.portMax)
            if range.overlaps(media) {
                log.error(at: location.with(key: "\(key).rtp_port_min"),
                          "RTP range \(range.lowerBound)-\(range.upperBound) overlaps \(interface.location.key) (\(interface.portMin)-\(interface.portMax), \(interface.location))")
            }
            if endpoints.port != 0 && media.contains(endpoints.port) {
                log.error(at: location.with(key: "\(key).port"),
                          "SIP port \(endpoints.port) is inside \(interface.location.key)'s port range (\(interface.location))")
            }
        }
    }

    // MARK: Node

    private func checkNode() {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
        let node = configuration.node
        if node.isEmpty || !node.allSatisfy(allowed.contains) {
            log.error(configuration.file, 0, "node", "'\(node)' must be letters, digits, '.', '-' or '_'")
        }
    }

    // MARK: Listeners

    private func checkListeners() {
        let listeners = configuration.sip.listeners
        if listeners.isEmpty {
            log.error(configuration.file, 0, "sip.listeners", "at least one SIP listener is required")
        }
        for listener in listeners {
            let key = listener.location.key
            if IPAddressBytes(listener.address) == nil {
                log.error(at: listener.location.with(key: "\(key).address"),
                          "'\(listener.address)' is not an IP address (listeners bind an address, not a name)")
            } else if IPAddressBytes(listener.address)?.isUnspecified == true
                && listener.advertisedAddress == nil && configuration.advertisedAddress == nil {
                log.error(at: listener.location.with(key: "\(key).address"),
                          "'\(listener.address)' binds every interface, so it is no address to put in Via, Contact and Record-Route: "
                          + "set advertised_address on this listener, or the top-level advertised_address, to the address or name peers reach")
            }
            if let advertised = listener.advertisedAddress, IPAddressBytes(advertised)?.isUnspecified == true {
                log.error(at: listener.location.with(key: "\(key).advertised_address"),
                          "'\(advertised)' is a wildcard, not an address peers can reach")
            }
            if listener.transport.isSecure {
                checkCredentials(certificate: listener.certificate, privateKey: listener.privateKey,
                                 at: listener.location, what: "a \(listener.transport.rawValue) listener")
            } else if listener.certificate != nil || listener.privateKey != nil {
                log.error(at: listener.location.with(key: "\(key).certificate"),
                          "certificate and private_key are only for tls and wss listeners")
            }
        }
        if !listeners.isEmpty && !listeners.contains(where: \.transport.isWebSocket) {
            log.warning(configuration.file, 0, "sip.listeners", "no ws or wss listener: browsers cannot connect")
        }
        // Sockets that would collide: same protocol (UDP, or TCP for every stream transport and
        // HTTP), same port, and addresses that overlap.
        var bound: [(udp: Bool, address: String, port: Int, location: SourceLocation)] =
            listeners.map { ($0.transport.usesUDP, $0.address, $0.port, $0.location) }
        if let http = configuration.http {
            bound.append((false, http.address, http.port, http.location))
            if http.demoPhone && !listeners.isEmpty && !listeners.contains(where: \.transport.isWebSocket) {
                log.warning(at: http.location.with(key: "\(http.location.key).demo_phone"),
                            "the demo phone is served but there is no ws or wss listener for it to register on")
            }
        }
        for (i, a) in bound.enumerated() where a.port != 0 {
            for b in bound[..<i] where b.udp == a.udp && b.port == a.port && addressesOverlap(a.address, b.address) {
                log.error(at: a.location.with(key: "\(a.location.key).port"),
                          "\(a.udp ? "UDP" : "TCP") port \(a.port) on \(a.address) is already used by \(b.location.key) (\(b.location))")
            }
        }
    }

    private func checkCredentials(certificate: String?, privateKey: String?, at location: SourceLocation, what: String) {
        guard let certificate, let privateKey else {
            log.error(at: location.with(key: "\(location.key).certificate"), "\(what) needs certificate and private_key")
            return
        }
        for (path, name) in [(certificate, "certificate"), (privateKey, "private_key")] where access(path, R_OK) != 0 {
            log.error(at: location.with(key: "\(location.key).\(name)"), "\(path): \(ConfigurationLoader.reason(path: path))")
            return
        }
        let check = PEMCredentials.check(certificatePath: certificate, privateKeyPath: privateKey)
        if let error = check.error { log.error(at: location.with(key: "\(location.key).certificate"), error) }
        for warning in check.warnings { log.warning(at: location.with(key: "\(location.key).certificate"), warning) }
    }

    /// Whether two bind addresses can conflict: equal, or either binds every interface.
    private func addressesOverlap(_ a: String, _ b: String) -> Bool {
        guard let x = IPAddressBytes(a), let y = IPAddressBytes(b) else { return a == b }
        return x == y || x.isUnspecified || y.isUnspecified
    }

    // MARK: Media

    private func checkMedia() {
        let interfaces = configuration.media.interfaces
        if interfaces.isEmpty {
            log.error(configuration.file, 0, "media.interfaces", "at least one media interface is required")
        }
        checkUnique(interfaces.map { ($0.name, $0.location) }, what: "media interface")
        for (i, interface) in interfaces.enumerated() {
            let key = interface.location.key
            if IPAddressBytes(interface.address) == nil {
                log.error(at: interface.location.with(key: "\(key).address"), "'\(interface.address)' is not an IP address")
            } else if IPAddressBytes(interface.address)?.isUnspecified == true && interface.advertisedAddress == nil {
                log.error(at: interface.location.with(key: "\(key).address"),
                          "'\(interface.address)' binds every interface, so it is no address to put in SDP (c=) and ICE candidates: "
                          + "set advertised_address on this interface, or the top-level advertised_address, to the IP address peers send media to")
            }
            if let advertised = interface.advertisedAddress {
                if IPAddressBytes(advertised) == nil {
                    log.error(at: interface.location.with(key: "\(key).advertised_address"),
                              "'\(advertised)' is not an IP address (SDP c= lines and ICE candidates carry addresses, not names)")
                } else if IPAddressBytes(advertised)?.isUnspecified == true {
                    log.error(at: interface.location.with(key: "\(key).advertised_address"),
                              "'\(advertised)' is a wildcard, not an address peers can send media to")
                }
            }
            if interface.portMin > interface.portMax {
                log.error(at: interface.location.with(key: "\(key).port_min"),
                          "port_min \(interface.portMin) is greater than port_max \(interface.portMax)")
                continue
            }
            let range = interface.portMin...interface.portMax
            for other in interfaces[..<i] where addressesOverlap(interface.address, other.address)
                && range.overlaps(other.portMin...other.portMax) {
                log.error(at: interface.location.with(key: "\(key).port_min"),
                          "port range \(interface.portMin)-\(interface.portMax) overlaps \(other.location.key) (\(other.portMin)-\(other.portMax), \(other.location))")
            }
            for listener in configuration.sip.listeners where listener.transport.usesUDP
                && range.contains(listener.port) && addressesOverlap(interface.address, listener.address) {
                log.error(at: interface.location.with(key: "\(key).port_min"),
                          "port range \(interface.portMin)-\(interface.portMax) contains UDP port \(listener.port) of \(listener.location.key) (\(listener.location))")
            }
        }
    }

    // MARK: Control

    private func checkControl() {
        let path = configuration.control.socketPath
        // sockaddr_un.sun_path holds 108 bytes including the terminator.
        if path.utf8.count >= 108 {
            log.error(configuration.file, 0, "control.socket", "path is \(path.utf8.count) bytes; a Unix socket path must be under 108")
        }
    }

    // MARK: Profiles

    private func checkDTLSProfiles() {
        checkUnique(configuration.dtlsProfiles.map { ($0.name, $0.location) }, what: "DTLS profile")
        for profile in configuration.dtlsProfiles {
            if case .files(let certificate, let privateKey) = profile.certificate {
                checkCredentials(certificate: certificate, privateKey: privateKey, at: profile.location, what: "a DTLS profile")
            }
        }
    }

    private func checkTrunks() {
        checkUnique(configuration.trunks.map { ($0.name, $0.location) }, what: "trunk")
        for trunk in configuration.trunks {
            checkReference(trunk.codecProfile, in: configuration.codecProfiles.map(\.name), what: "codec profile",
                           at: trunk.location, key: "codec_profile")
            checkReference(trunk.mediaInterface, in: configuration.media.interfaces.map(\.name), what: "media interface",
                           at: trunk.location, key: "media_interface")
        }
    }

    private func checkWeb() {
        let web = configuration.web
        checkReference(web.dtlsProfile, in: configuration.dtlsProfiles.map(\.name), what: "DTLS profile",
                       at: web.location, key: "dtls_profile")
        checkReference(web.codecProfile, in: configuration.codecProfiles.map(\.name), what: "codec profile",
                       at: web.location, key: "codec_profile")
        checkReference(web.mediaInterface, in: configuration.media.interfaces.map(\.name), what: "media interface",
                       at: web.location, key: "media_interface")
    }

    private func checkUsers() {
        checkUnique(configuration.users.map { ($0.username, $0.location) }, what: "user")
        // RFC 3261 §25.1 user: unreserved / escaped / user-unreserved; kept to what needs no escaping.
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()&=+$,;?/")
        for user in configuration.users where !user.username.allSatisfy(allowed.contains) {
            log.error(at: user.location.with(key: "\(user.location.key).username"),
                      "'\(user.username)' has characters not allowed in a SIP user name")
        }
    }

    private func checkDialPlan() {
        checkUnique(configuration.dialPlan.map { ($0.name, $0.location) }, what: "dial-plan rule")
        for rule in configuration.dialPlan {
            for trunk in rule.trunks {
                checkReference(trunk, in: configuration.trunks.map(\.name), what: "trunk", at: rule.location,
                               key: rule.trunks.count == 1 ? "trunk" : "trunks")
            }
            let expression: NSRegularExpression
            do {
                expression = try NSRegularExpression(pattern: rule.pattern)
            } catch {
                log.error(at: rule.location.with(key: "\(rule.location.key).match"), "'\(rule.pattern)' is not a valid regular expression")
                continue
            }
            if let rewrite = rule.rewrite {
                let groups = expression.numberOfCaptureGroups
                for reference in DialPlanRewrite.groupReferences(in: rewrite) where reference > groups {
                    log.error(at: rule.location.with(key: "\(rule.location.key).rewrite"),
                              "$\(reference) refers to a capture group the pattern does not have (it has \(groups))")
                }
            }
        }
    }

    // MARK: Helpers

    private func checkUnique(_ names: [(String, SourceLocation)], what: String) {
        var seen: [String: SourceLocation] = [:]
        for (name, location) in names {
            if let first = seen[name], first.file != "(built-in)" {
                log.error(at: location.with(key: "\(location.key).name"), "\(what) '\(name)' is already defined at \(first)")
            } else {
                seen[name] = location
            }
        }
    }

    private func checkReference(_ name: String, in defined: [String], what: String, at location: SourceLocation, key: String) {
        guard !defined.contains(name) else { return }
        let known = defined.isEmpty ? "none is defined" : "defined: \(defined.joined(separator: ", "))"
        let prefix = location.key.isEmpty ? key : "\(location.key).\(key)"
        log.error(at: location.with(key: prefix), "\(what) '\(name)' is not defined (\(known))")
    }
}

/// Applies a dial-plan rule's rewrite template.
public enum DialPlanRewrite {
    /// The `$n` group numbers a template refers to.
    public static func groupReferences(in template: String) -> [Int] {
        var result: [Int] = []
        var characters = template.makeIterator()
        var pending: Character? = characters.next()
        while let character = pending {
            pending = characters.next()
            guard character == "$" else { continue }
            var digits = ""
            while let next = pending, next.isASCII, next.isNumber {
                digits.append(next)
                pending = characters.next()
            }
            if let number = Int(digits) { result.append(number) }
        }
        return result
    }
}

func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "tandem" }
    let name = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
    return name.isEmpty || !name.allSatisfy(allowed.contains) ? "tandem" : name
}
