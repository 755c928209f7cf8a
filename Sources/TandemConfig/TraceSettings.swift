// The `trace` section: the SIP trace at start and after a reload (tandemctl trace turns it on and
// off at run time), its filter, and the HEP3 capture server it exports to.
//
//   trace:
//     enabled: false
//     call_id: ...          # optional: only this Call-ID
//     user: "1001"          # optional: only messages whose Request-URI, From or To user is this
//     log: true             # one log entry per message, with its text
//     hep:
//       address: 127.0.0.1  # an IP address literal
//       port: 9060
//       capture_id: 2001
//       password: ...       # optional: the capture server's authentication key

/// Where HEP3 packets go.
public struct HEPSettings: Sendable, Equatable {
    public var address: String
    public var port: Int
    public var captureID: UInt32
    public var password: String?
    public var location: SourceLocation

    public init(address: String, port: Int = 9060, captureID: UInt32 = 2001, password: String? = nil, location: SourceLocation) {
        self.address = address
        self.port = port
        self.captureID = captureID
        self.password = password
        self.location = location
    }

    public static func == (a: HEPSettings, b: HEPSettings) -> Bool {
        a.address == b.address && a.port == b.port && a.captureID == b.captureID && a.password == b.password
    }
}

public struct TraceSettings: Sendable, Equatable {
    public var enabled: Bool
    public var callID: String?
    public var user: String?
    public var log: Bool
    public var hep: HEPSettings?

    public init(enabled: Bool = false, callID: String? = nil, user: String? = nil, log: Bool = true, hep: HEPSettings? = nil) {
        self.enabled = enabled
        self.callID = callID
        self.user = user
        self.log = log
        self.hep = hep
    }
}

extension ConfigurationLoader {
    func readTrace(_ main: MappingReader) -> TraceSettings {
        guard let section = main.mapping("trace") else { return TraceSettings() }
        defer { section.finish() }
        var settings = TraceSettings(
            enabled: section.bool("enabled", default: false),
            callID: nonEmpty(section, "call_id"),
            user: nonEmpty(section, "user"),
            log: section.bool("log", default: true))
        if let hep = section.mapping("hep") {
            defer { hep.finish() }
            let address = hep.requiredString("address")
            if let address, IPAddressBytes(address) == nil {
                hep.error("address", "expected an IP address such as 127.0.0.1 or ::1, found '\(address)'")
            }
            let password = hep.string("password")
            if password?.isEmpty == true { hep.error("password", "must not be empty (leave it out for no password)") }
            settings.hep = HEPSettings(
                address: address.flatMap { IPAddressBytes($0) == nil ? nil : $0.trimmingBrackets() } ?? "127.0.0.1",
                port: hep.int("port", in: 1...65535, default: 9060),
                captureID: UInt32(hep.int("capture_id", in: 0...Int(UInt32.max), default: 2001)),
                password: password.flatMap { $0.isEmpty ? nil : $0 },
                location: hep.mappingLocation)
        }
        if settings.enabled && !settings.log && settings.hep == nil {
            section.warning("log", "the trace is enabled with neither log nor hep: it goes nowhere")
        }
        return settings
    }

    private func nonEmpty(_ section: MappingReader, _ key: String) -> String? {
        guard let text = section.string(key) else { return nil }
        if text.isEmpty {
            section.error(key, "must not be empty (leave it out to trace every message)")
            return nil
        }
        return text
    }
}

extension String {
    fileprivate func trimmingBrackets() -> String {
        hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
    }
}
