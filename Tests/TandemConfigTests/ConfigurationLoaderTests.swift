import DTLS
import Foundation
import SDP
import SIP
import XCTest

@testable import TandemConfig

final class ConfigurationLoaderTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    /// Loads `main` written as tandem.yaml, expecting errors; returns their descriptions.
    private func errors(_ main: String, profiles: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let path = try directory.write("tandem.yaml", main)
        for (name, contents) in profiles { try directory.write(name, contents) }
        do {
            let loaded = try ConfigurationLoader().load(path: path)
            XCTFail("expected the configuration to be rejected; it loaded with warnings \(loaded.warnings)", file: file, line: line)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    private func load(_ main: String, profiles: [String: String] = [:]) throws -> LoadedConfiguration {
        let path = try directory.write("tandem.yaml", main)
        for (name, contents) in profiles { try directory.write(name, contents) }
        return try ConfigurationLoader().load(path: path)
    }

    private var mainPath: String { (directory.path as NSString).appendingPathComponent("tandem.yaml") }

    // MARK: Good files

    func testShippedConfigurationLoadsWithoutWarnings() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("config/tandem.yaml").path
        let loaded = try ConfigurationLoader().load(path: path)
        let config = loaded.configuration
        XCTAssertEqual(loaded.warnings, [])
        XCTAssertEqual(config.node, "tandem-dev")
        XCTAssertEqual(config.sip.listeners.map(\.transport), [.udp, .tcp, .ws])
        XCTAssertEqual(config.includedFiles.map { ($0 as NSString).lastPathComponent }, ["media.yaml", "trunks.yaml", "web.yaml"])
        XCTAssertEqual(config.trunks.map(\.name), ["test", "local-pbx"])
        XCTAssertEqual(config.users.map(\.username), ["1001", "1002"])
        XCTAssertEqual(config.dialPlan.map(\.name), ["test-echo", "test-numbers", "extensions", "national"])
        // make run turns the test endpoints on, behind the `test` trunk.
        let endpoints = try XCTUnwrap(config.testEndpoints)
        XCTAssertEqual(endpoints.port, config.trunk(named: "test")?.port)
        XCTAssertEqual(endpoints.address, config.trunk(named: "test")?.address)
        XCTAssertEqual(config.http?.port, 9090)
        XCTAssertEqual(config.http?.demoPhone, true, "make run serves the demo phone")
        XCTAssertEqual(config.control.mode, 0o660)
        XCTAssertEqual(config.drainTimeout, .seconds(30))
        XCTAssertEqual(config.codecProfile(named: "webrtc")?.codecs, [.opus, .pcmu, .pcma, .telephoneEvent])
    }

    /// The production example, with its /etc paths pointed at a scratch directory holding a
    /// certificate and the shipped profile files: it loads cleanly and keeps the demo phone off.
    func testProductionExampleLoadsWithTheDemoPhoneOff() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var text = try String(contentsOf: root.appendingPathComponent("config/examples/production.yaml"), encoding: .utf8)
        try directory.makeCertificate("fullchain")
        text = text.replacingOccurrences(of: "/etc/tandem/tls/fullchain.pem", with: "fullchain.pem")
            .replacingOccurrences(of: "/etc/tandem/tls/privkey.pem", with: "fullchain.key")
            .replacingOccurrences(of: "/etc/tandem/profiles/", with: root.appendingPathComponent("config/profiles").path + "/")
        XCTAssertTrue(text.contains("demo_phone: false"))
        let loaded = try load(text)
        XCTAssertEqual(loaded.warnings, [])
        XCTAssertEqual(loaded.configuration.http?.demoPhone, false)
        XCTAssertEqual(loaded.configuration.sip.listeners.map(\.transport), [.udp, .tls, .wss])
        XCTAssertNil(loaded.configuration.testEndpoints, "no test endpoints in production")
        XCTAssertFalse(loaded.configuration.trunks.contains { $0.name == "test" })
    }

    func testTestEndpointsAreOffUnlessConfiguredAndChecked() throws {
        XCTAssertNil(try load("").configuration.testEndpoints)
        XCTAssertNil(try load("test_endpoints:\n  enabled: false\n  port: 5099\n").configuration.testEndpoints)
        let defaults = try XCTUnwrap(try load("test_endpoints: {}\n").configuration.testEndpoints)
        XCTAssertEqual([defaults.address, "\(defaults.port)", "\(defaults.rtpPortMin)-\(defaults.rtpPortMax)"], ["127.0.0.1", "5099", "30000-30099"])
        let found = try errors("""
            sip:
              listeners:
                - {transport: udp, address: 127.0.0.1, port: 5060}
                - {transport: ws, address: 127.0.0.1, port: 8080}
            media:
              interfaces:
                - {name: default, address: 127.0.0.1, port_min: 20000, port_max: 29999}
            test_endpoints:
              address: 0.0.0.0
              port: 5060
              rtp_port_min: 29900
              rtp_port_max: 30100
              prot: 1
            """)
        XCTAssertEqual(found, [
            "\(mainPath):13: test_endpoints.prot: unknown key (did you mean 'port'?)",
            "\(mainPath):9: test_endpoints.port: UDP port 5060 on 0.0.0.0 is already used by sip.listeners[0] (\(mainPath):3)",
            "\(mainPath):9: test_endpoints.rtp_port_min: RTP range 29900-30100 overlaps media.interfaces[0] (20000-29999, \(mainPath):7)",
        ])
        XCTAssertEqual(try errors("test_endpoints: {address: localhost, rtp_port_min: 30000, rtp_port_max: 30000}\n"), [
            "\(mainPath):1: test_endpoints.address: 'localhost' is not an IP address",
            "\(mainPath):1: test_endpoints.rtp_port_min: rtp_port_min 30000 must be below rtp_port_max 30000 (a call needs an even/odd pair)",
        ])
    }

    func testDemoPhoneIsOffByDefaultAndTyped() throws {
        XCTAssertEqual(try load("http:\n  port: 9090\n").configuration.http?.demoPhone, false)
        XCTAssertEqual(try load("http:\n  port: 9090\n  demo_phone: yes\n").configuration.http?.demoPhone, true)
        XCTAssertEqual(try errors("http:\n  port: 9090\n  demo_phone: sometimes\n"),
                       ["\(mainPath):3: http.demo_phone: expected true or false, found 'sometimes'"])
        let lonely = try load("sip:\n  listeners:\n    - {transport: udp, port: 5060}\nhttp:\n  port: 9090\n  demo_phone: true\n")
        XCTAssertTrue(lonely.warnings.map(\.description).contains { $0.contains("http.demo_phone") && $0.contains("no ws or wss listener for it") },
                      "\(lonely.warnings)")
    }

    func testEmptyFileGivesDefaults() throws {
        let loaded = try load("")
        let config = loaded.configuration
        XCTAssertEqual(config.sip.listeners.map(\.endpoint), ["udp://127.0.0.1:5060", "tcp://127.0.0.1:5060", "ws://127.0.0.1:8080"])
        XCTAssertEqual(config.media.interfaces.map(\.name), ["default"])
        XCTAssertEqual(config.workers, 0)
        XCTAssertNil(config.http)
        XCTAssertEqual(config.logLevel, .info)
        XCTAssertEqual(config.dtlsProfiles.map(\.name), ["default"])
        XCTAssertEqual(config.codecProfiles.map(\.name), ["webrtc", "g711"])
        XCTAssertEqual(config.web.codecProfile, "webrtc")
        XCTAssertEqual(config.sip.maxUDPMessageSize, 8192)
        XCTAssertEqual(config.sip.maxConnections, 4096)
        XCTAssertEqual(config.sip.maxConnectionsPerSource, 256)
        XCTAssertEqual(config.sip.firstMessageTimeout, .seconds(30))
    }

    func testConnectionLimitsAreReadAndBounded() throws {
        let sip = try load("sip:\n  max_connections: 100\n  max_connections_per_source: 10\n  first_message_timeout: 5s\n").configuration.sip
        XCTAssertEqual([sip.maxConnections, sip.maxConnectionsPerSource], [100, 10])
        XCTAssertEqual(sip.firstMessageTimeout, .seconds(5))
        XCTAssertEqual(try errors("sip:\n  max_connections: 0\n  first_message_timeout: 0s\n"), [
            "\(mainPath):2: sip.max_connections: 0 is out of range (1...1000000)",
            "\(mainPath):3: sip.first_message_timeout: 0s is out of range (1s...3600s)",
        ])
    }

    func testTheUDPMessageSizeLimitIsReadAndBounded() throws {
        XCTAssertEqual(try load("sip:\n  max_udp_message_size: 4096\n").configuration.sip.maxUDPMessageSize, 4096)
        XCTAssertEqual(try errors("sip:\n  max_udp_message_size: 100000\n"),
                       ["\(mainPath):2: sip.max_udp_message_size: 100000 is out of range (1024...65507)"])
    }

    func testValuesAreTypedAndRelativePathsResolveAgainstTheFile() throws {
        let config = try load("""
            node: edge-1
            workers: 4
            drain_timeout: 1500ms
            control:
              socket: run/ctl.sock
              mode: "0600"
            log:
              level: debug
            include: [extra/*.yaml]
            """, profiles: ["extra/a.yaml": "trunks:\n  - name: t\n    address: 192.0.2.10\n    transport: TCP\n"]).configuration
        XCTAssertEqual(config.node, "edge-1")
        XCTAssertEqual(config.workers, 4)
        XCTAssertEqual(config.drainTimeout, .milliseconds(1500))
        XCTAssertEqual(config.control.socketPath, (directory.path as NSString).appendingPathComponent("run/ctl.sock"))
        XCTAssertEqual(config.control.mode, 0o600)
        XCTAssertEqual(config.logLevel, .debug)
        let trunk = try XCTUnwrap(config.trunk(named: "t"))
        XCTAssertEqual(trunk.transport, .tcp)
        XCTAssertEqual(trunk.port, 5060)
        XCTAssertEqual(trunk.allowedSources.map(\.description), ["192.0.2.10/32"], "an IP trunk allows its own address by default")
        XCTAssertEqual(trunk.codecProfile, "g711")
        XCTAssertEqual(trunk.optionsInterval, 30)
    }

    func testProfileFileCanReplaceABuiltinProfile() throws {
        let config = try load("include: [p.yaml]\n", profiles: [
            "p.yaml": "codec_profiles:\n  - name: webrtc\n    codecs: [opus]\n    ptime: 40\n",
        ]).configuration
        XCTAssertEqual(config.codecProfiles.filter { $0.name == "webrtc" }.count, 1)
        XCTAssertEqual(config.codecProfile(named: "webrtc")?.codecs, [.opus])
        XCTAssertEqual(config.codecProfile(named: "webrtc")?.ptime, 40)
    }

    func testMissingWebSocketListenerIsAWarningNotAnError() throws {
        let loaded = try load("sip:\n  listeners:\n    - transport: udp\n      port: 5060\n")
        XCTAssertEqual(loaded.warnings.map(\.description), ["\(mainPath): sip.listeners: warning: no ws or wss listener: browsers cannot connect"])
    }

    // MARK: Unknown keys

    func testMisspeltTopLevelKeyNamesFileLineAndKeyWithSuggestion() throws {
        let found = try errors("node: a\nworkers: 2\ndrain_timout: 10\n")
        XCTAssertEqual(found, ["\(mainPath):3: drain_timout: unknown key (did you mean 'drain_timeout'?)"])
    }

    func testMisspeltKeyInProfileFileNamesThatFile() throws {
        let found = try errors("include: [profiles/*.yaml]\n", profiles: [
            "profiles/trunks.yaml": """
                trunks:
                  - name: carrier
                    address: 192.0.2.1
                    alowed_sources: [192.0.2.0/24]
                """,
        ])
        let profile = (directory.path as NSString).appendingPathComponent("profiles/trunks.yaml")
        XCTAssertEqual(found, ["\(profile):4: trunks[0].alowed_sources: unknown key (did you mean 'allowed_sources'?)"])
    }

    func testCoreKeysAreUnknownInProfileFiles() throws {
        let found = try errors("include: [p.yaml]\n", profiles: ["p.yaml": "workers: 3\n"])
        XCTAssertEqual(found, ["\((directory.path as NSString).appendingPathComponent("p.yaml")):1: workers: unknown key"])
    }

    // MARK: Wrong types and ranges

    func testWrongTypes() throws {
        let found = try errors("""
            workers: many
            sip:
              listeners: 5
            http:
              enabled: maybe
            log: loud
            """)
        XCTAssertEqual(found, [
            "\(mainPath):3: sip.listeners: expected a list, found '5'",
            "\(mainPath):1: workers: expected an integer, found 'many'",
            "\(mainPath):5: http.enabled: expected true or false, found 'maybe'",
            "\(mainPath):6: log: expected a mapping of keys to values, found 'loud'",
        ])
    }

    func testValuesOutOfRange() throws {
        let found = try errors("""
            sip:
              listeners:
                - transport: udp
                  port: 70000
            media:
              interfaces:
                - address: 127.0.0.1
                  port_min: 80
            drain_timeout: 2h
            """)
        XCTAssertEqual(found, [
            "\(mainPath):4: sip.listeners[0].port: 70000 is out of range (0...65535)",
            "\(mainPath):8: media.interfaces[0].port_min: 80 is out of range (1024...65535)",
            "\(mainPath):9: drain_timeout: 2h is out of range (0s...3600s)",
        ])
    }

    func testUnknownEnumerationValueListsTheAcceptedOnes() throws {
        let found = try errors("sip:\n  listeners:\n    - transport: sctp\n")
        XCTAssertEqual(found, ["\(mainPath):3: sip.listeners[0].transport: expected one of udp, tcp, tls, ws, wss, found 'sctp'"])
    }

    func testYAMLSyntaxErrorHasItsLine() throws {
        let found = try errors("node: a\nsip:\n  listeners: [\n")
        XCTAssertEqual(found.count, 1)
        XCTAssertTrue(found[0].hasPrefix("\(mainPath):4: YAML syntax error:"), found[0])
    }

    // MARK: Port conflicts

    func testListenersOnOverlappingAddressesAndPortCollide() throws {
        let found = try errors("""
            sip:
              listeners:
                - transport: udp
                  address: 0.0.0.0
                  port: 5060
                - transport: tcp
                  address: 127.0.0.1
                  port: 5060
                - transport: udp
                  address: 127.0.0.1
                  port: 5060
            http:
              port: 5060
            advertised_address: 192.0.2.1
            """)
        XCTAssertEqual(found, [
            "\(mainPath):9: sip.listeners[2].port: UDP port 5060 on 127.0.0.1 is already used by sip.listeners[0] (\(mainPath):3)",
            "\(mainPath):13: http.port: TCP port 5060 on 127.0.0.1 is already used by sip.listeners[1] (\(mainPath):6)",
        ])
    }

    func testMediaTimeoutLoadLimitAndStrictSource() throws {
        let loaded = try load("""
            media:
              rtp_timeout: 2m
              strict_source: true
              max_load: 70
              transcoded_read_interval: 5ms
              relayed_read_interval: 1ms
            """)
        XCTAssertEqual(loaded.configuration.media.rtpTimeout, .seconds(120))
        XCTAssertEqual(loaded.configuration.media.transcodedReadInterval, .milliseconds(5))
        XCTAssertEqual(loaded.configuration.media.relayedReadInterval, .milliseconds(1))
        XCTAssertTrue(loaded.configuration.media.strictSource)
        XCTAssertEqual(loaded.configuration.media.maxLoad, 70)
        XCTAssertEqual(loaded.configuration.media.interfaces.map(\.name), ["default"], "interfaces keep their default")
        let defaults = try load("node: x\n").configuration.media
        XCTAssertEqual(defaults.rtpTimeout, .seconds(60))
        XCTAssertEqual(defaults.maxLoad, 85)
        XCTAssertEqual(defaults.transcodedReadInterval, .milliseconds(10))
        XCTAssertEqual(defaults.relayedReadInterval, .zero, "relayed calls are read as packets arrive")
        let found = try errors("""
            media:
              rtp_timeout: 1s
              max_load: 150
              transcoded_read_interval: 50ms
            """)
        XCTAssertEqual(found.count, 3, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("media.transcoded_read_interval") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("media.rtp_timeout") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("media.max_load") }, "\(found)")
    }

    func testOverlappingMediaPortRanges() throws {
        let found = try errors("""
            sip:
              listeners:
                - transport: udp
                  port: 20010
                - transport: ws
                  port: 8080
            media:
              interfaces:
                - name: public
                  address: 0.0.0.0
                  port_min: 30000
                  port_max: 30999
                - name: private
                  address: 127.0.0.1
                  port_min: 30500
                  port_max: 31999
                - name: low
                  address: 127.0.0.1
                  port_min: 20000
                  port_max: 20100
            advertised_address: 192.0.2.1
            """)
        XCTAssertEqual(found, [
            "\(mainPath):13: media.interfaces[1].port_min: port range 30500-31999 overlaps media.interfaces[0] (30000-30999, \(mainPath):9)",
            "\(mainPath):17: media.interfaces[2].port_min: port range 20000-20100 contains UDP port 20010 of sip.listeners[0] (\(mainPath):3)",
        ])
    }

    func testInvertedPortRange() throws {
        let found = try errors("media:\n  interfaces:\n    - address: 127.0.0.1\n      port_min: 30000\n      port_max: 20000\n")
        XCTAssertEqual(found, ["\(mainPath):3: media.interfaces[0].port_min: port_min 30000 is greater than port_max 20000"])
    }

    // MARK: Certificates

    func testMissingCertificateFiles() throws {
        let found = try errors("""
            sip:
              listeners:
                - transport: ws
                - transport: tls
                  port: 5061
                  certificate: tls/missing.pem
                  private_key: tls/missing.key
                - transport: wss
                  port: 8443
            """)
        let missing = (directory.path as NSString).appendingPathComponent("tls/missing.pem")
        XCTAssertEqual(found, [
            "\(mainPath):4: sip.listeners[1].certificate: \(missing): no such file",
            "\(mainPath):8: sip.listeners[2].certificate: a wss listener needs certificate and private_key",
        ])
    }

    func testCertificateAndKeyMustMatch() throws {
        try directory.makeCertificate("a")
        try directory.makeCertificate("b")
        let good = "sip:\n  listeners:\n    - transport: wss\n      port: 8443\n      certificate: a.pem\n      private_key: a.key\n"
        XCTAssertNoThrow(try load(good))
        let found = try errors(good.replacingOccurrences(of: "a.key", with: "b.key"))
        let a = (directory.path as NSString).appendingPathComponent("a.pem")
        let b = (directory.path as NSString).appendingPathComponent("b.key")
        XCTAssertEqual(found, ["\(mainPath):3: sip.listeners[0].certificate: private key \(b) does not match certificate \(a)"])
    }

    func testFileThatIsNotACertificate() throws {
        try directory.write("junk.pem", "not a certificate\n")
        try directory.makeCertificate("a")
        let found = try errors("dtls_profiles:\n  - name: edge\n    certificate: junk.pem\n    private_key: a.key\n")
        XCTAssertEqual(found, ["\(mainPath):2: dtls_profiles[0].certificate: \((directory.path as NSString).appendingPathComponent("junk.pem")) holds no PEM certificate"])
    }

    func testExpiredCertificateIsAWarning() throws {
        // A fixture valid only in January 2020.
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
        let loaded = try load("dtls_profiles:\n  - name: old\n    certificate: \(fixtures)/expired.pem\n    private_key: \(fixtures)/expired.key\n")
        XCTAssertEqual(loaded.warnings.map(\.description), [
            "\(mainPath):2: dtls_profiles[0].certificate: warning: certificate \(fixtures)/expired.pem has expired",
        ])
    }

    // MARK: References

    func testReferencesToUndefinedProfilesTrunksAndInterfaces() throws {
        let found = try errors("""
            trunks:
              - name: carrier
                address: 192.0.2.1
                codec_profile: g722
                media_interface: dmz
            web:
              dtls_profile: strict
            dial_plan:
              - match: '^9(\\d+)$'
                trunk: carier
            """)
        XCTAssertEqual(found, [
            "\(mainPath):2: trunks[0].codec_profile: codec profile 'g722' is not defined (defined: webrtc, g711)",
            "\(mainPath):2: trunks[0].media_interface: media interface 'dmz' is not defined (defined: default)",
            "\(mainPath):7: web.dtls_profile: DTLS profile 'strict' is not defined (defined: default)",
            "\(mainPath):9: dial_plan[0].trunk: trunk 'carier' is not defined (defined: carrier)",
        ])
    }

    func testDuplicateNamesAcrossFiles() throws {
        let found = try errors("include: [a.yaml, b.yaml]\n", profiles: [
            "a.yaml": "trunks:\n  - name: carrier\n    address: 192.0.2.1\n",
            "b.yaml": "\n\ntrunks:\n  - name: carrier\n    address: 192.0.2.2\n",
        ])
        let a = (directory.path as NSString).appendingPathComponent("a.yaml")
        let b = (directory.path as NSString).appendingPathComponent("b.yaml")
        XCTAssertEqual(found, ["\(b):4: trunks[0].name: trunk 'carrier' is already defined at \(a):2"])
    }

    func testIncludedFileThatDoesNotExist() throws {
        let found = try errors("include: [nowhere.yaml]\n")
        XCTAssertEqual(found, ["\(mainPath):1: include[0]: included file \((directory.path as NSString).appendingPathComponent("nowhere.yaml")) does not exist"])
    }

    func testGlobWithNoMatchesIsFine() throws {
        XCTAssertEqual(try load("include: [none/*.yaml]\n").configuration.includedFiles, [])
    }

    // MARK: Profiles

    func testCodecAndSRTPListsAreChecked() throws {
        let found = try errors("""
            codec_profiles:
              - name: a
                codecs: [opus, g722, OPUS]
                ptime: 25
              - name: b
                codecs: [telephone-event]
              - name: c
                codecs: []
              - name: d
            dtls_profiles:
              - name: x
                srtp_profiles: [SRTP_NULL_NULL]
            """)
        XCTAssertEqual(found, [
            "\(mainPath):12: dtls_profiles[0].srtp_profiles[0]: unknown SRTP profile 'SRTP_NULL_NULL' (expected one of SRTP_AEAD_AES_256_GCM, SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_SHA1_80, SRTP_AES128_CM_SHA1_32)",
            "\(mainPath):3: codec_profiles[0].codecs[1]: unknown codec 'g722' (expected one of opus, pcmu, pcma, telephone-event)",
            "\(mainPath):3: codec_profiles[0].codecs[2]: OPUS is listed twice",
            "\(mainPath):4: codec_profiles[0].ptime: must be a multiple of 10 ms, found 25",
            "\(mainPath):6: codec_profiles[1].codecs: must name at least one audio codec (opus, pcmu or pcma)",
            "\(mainPath):8: codec_profiles[2].codecs: must list at least one codec",
            "\(mainPath):9: codec_profiles[3].codecs: is required",
        ])
    }

    func testSRTPProfilesKeepTheirOrder() throws {
        let config = try load("dtls_profiles:\n  - name: x\n    srtp_profiles: [srtp_aes128_cm_sha1_80, SRTP_AEAD_AES_128_GCM]\n").configuration
        XCTAssertEqual(config.dtlsProfile(named: "x")?.srtpProfiles, [.aes128CMSHA1_80, .aeadAES128GCM])
        XCTAssertEqual(config.dtlsProfile(named: "x")?.certificate, .generated)
    }

    // MARK: Trunks, users, dial plan

    func testTrunkByHostNameNeedsAllowedSources() throws {
        let found = try errors("trunks:\n  - name: carrier\n    address: sip.example.net\n    transport: ws\n")
        XCTAssertEqual(found, [
            "\(mainPath):4: trunks[0].transport: a trunk uses udp, tcp or tls, not ws",
            "\(mainPath):2: trunks[0].allowed_sources: is required when the address is a host name (sip.example.net); Tandem never accepts calls from anywhere",
        ])
    }

    func testRegistrationNeedsCredentials() throws {
        let found = try errors("trunks:\n  - name: carrier\n    address: 192.0.2.1\n    register: true\n")
        XCTAssertEqual(found, ["\(mainPath):4: trunks[0].register: registration needs credentials"])
    }

    func testBadAllowedSource() throws {
        let found = try errors("trunks:\n  - name: c\n    address: 192.0.2.1\n    allowed_sources:\n      - 192.0.2.0/33\n")
        XCTAssertEqual(found, ["\(mainPath):5: trunks[0].allowed_sources[0]: '192.0.2.0/33' is not an IP address or CIDR network"])
    }

    func testDialPlanPatternAndRewriteAreChecked() throws {
        let found = try errors("""
            trunks:
              - name: c
                address: 192.0.2.1
            dial_plan:
              - match: '^(0[1-9'
                trunk: c
              - match: '^0(\\d+)$'
                trunk: c
                rewrite: '+33$2'
            """)
        XCTAssertEqual(found, [
            "\(mainPath):5: dial_plan[0].match: '^(0[1-9' is not a valid regular expression",
            "\(mainPath):7: dial_plan[1].rewrite: $2 refers to a capture group the pattern does not have (it has 1)",
        ])
    }

    func testUserNeedsPasswordAndValidName() throws {
        let found = try errors("users:\n  - username: al ice\n  - username: bob\n")
        XCTAssertEqual(found, [
            "\(mainPath):2: users[0].password: is required",
            "\(mainPath):3: users[1].password: is required",
            "\(mainPath):2: users[0].username: 'al ice' has characters not allowed in a SIP user name",
        ])
    }

    func testEveryErrorIsReportedInOnePass() throws {
        let found = try errors("workers: -1\nnode: 'bad node'\nlog:\n  level: chatty\nfoo: 1\n")
        XCTAssertEqual(found.count, 4, "\(found)")
    }

    func testUnreadableMainFile() throws {
        do {
            _ = try ConfigurationLoader().load(path: "/nonexistent/tandem.yaml")
            XCTFail("loaded a file that does not exist")
        } catch {
            XCTAssertEqual(error.errors.map(\.description), ["/nonexistent/tandem.yaml: cannot read file: no such file"])
        }
    }
}
