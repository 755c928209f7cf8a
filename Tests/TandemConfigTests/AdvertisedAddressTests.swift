// A wildcard bind address (0.0.0.0, ::) is no address to tell a peer: a listener or media
// interface bound to one needs an advertised address, or --check-config rejects the file. And a
// drain_timeout above the sanity ceiling is a warning, not an error.

import Foundation
import XCTest

@testable import TandemConfig

final class AdvertisedAddressTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    private var mainPath: String { (directory.path as NSString).appendingPathComponent("tandem.yaml") }

    private func outcome(_ main: String) throws -> (errors: [String], warnings: [String], configuration: TandemConfiguration?) {
        let path = try directory.write("tandem.yaml", main)
        do {
            let loaded = try ConfigurationLoader().load(path: path)
            return ([], loaded.warnings.map(\.description), loaded.configuration)
        } catch {
            return (error.errors.map(\.description), error.diagnostics.filter { $0.severity == .warning }.map(\.description), nil)
        }
    }

    private static func file(listener: String, interface: String, topLevel: String = "") -> String {
        """
        \(topLevel)sip:
          listeners:
            - {transport: ws, \(listener), port: 8080}
        media:
          interfaces:
            - {name: default, \(interface), port_min: 20000, port_max: 20999}

        """
    }

    func testWildcardListenerWithoutAdvertisedAddressIsRejectedSayingWhatToSet() throws {
        for wildcard in ["0.0.0.0", "\"::\""] {
            let found = try outcome(Self.file(listener: "address: \(wildcard)", interface: "address: 127.0.0.1")).errors
            let shown = wildcard.replacingOccurrences(of: "\"", with: "")
            XCTAssertEqual(found, [
                "\(mainPath):3: sip.listeners[0].address: '\(shown)' binds every interface, so it is no address to put in Via, "
                    + "Contact and Record-Route: set advertised_address on this listener, or the top-level advertised_address, "
                    + "to the address or name peers reach",
            ])
        }
    }

    func testWildcardListenerWithAnAdvertisedAddressLoads() throws {
        let own = try outcome(Self.file(listener: "address: 0.0.0.0, advertised_address: sip.example.net", interface: "address: 127.0.0.1"))
        XCTAssertEqual(own.errors, [])
        XCTAssertEqual(own.configuration?.sip.listeners.first?.advertisedAddress, "sip.example.net")
        let node = try outcome(Self.file(listener: "address: 0.0.0.0", interface: "address: 127.0.0.1",
                                         topLevel: "advertised_address: sip.example.net\n"))
        XCTAssertEqual(node.errors, [], "the top-level advertised_address covers every listener")
    }

    func testWildcardMediaInterfaceWithoutAdvertisedAddressIsRejectedSayingWhatToSet() throws {
        let found = try outcome(Self.file(listener: "address: 127.0.0.1", interface: "address: 0.0.0.0")).errors
        XCTAssertEqual(found, [
            "\(mainPath):6: media.interfaces[0].address: '0.0.0.0' binds every interface, so it is no address to put in SDP (c=) "
                + "and ICE candidates: set advertised_address on this interface, or the top-level advertised_address, "
                + "to the IP address peers send media to",
        ])
        // A name at the top level serves SIP headers, not SDP: the interface still needs an address.
        let named = try outcome(Self.file(listener: "address: 0.0.0.0", interface: "address: 0.0.0.0",
                                          topLevel: "advertised_address: sip.example.net\n")).errors
        XCTAssertEqual(named.count, 1, "\(named)")
        XCTAssertTrue(named.first?.contains("media.interfaces[0].address: '0.0.0.0' binds every interface") ?? false, "\(named)")
    }

    func testWildcardMediaInterfaceAdvertisesItsOwnOrTheNodesAddress() throws {
        let own = try outcome(Self.file(listener: "address: 127.0.0.1", interface: "address: 0.0.0.0, advertised_address: 198.51.100.7"))
        XCTAssertEqual(own.errors, [])
        XCTAssertEqual(own.configuration?.media.interfaces.first?.advertisedAddress, "198.51.100.7")
        let node = try outcome(Self.file(listener: "address: 0.0.0.0", interface: "address: 0.0.0.0",
                                         topLevel: "advertised_address: 203.0.113.10\n"))
        XCTAssertEqual(node.errors, [])
        XCTAssertEqual(node.configuration?.media.interfaces.first?.advertisedAddress, "203.0.113.10",
                       "the node's advertised address is what SDP and ICE candidates carry")
        let bound = try outcome(Self.file(listener: "address: 127.0.0.1", interface: "address: 127.0.0.1",
                                          topLevel: "advertised_address: 203.0.113.10\n"))
        XCTAssertNil(bound.configuration?.media.interfaces.first?.advertisedAddress, "an interface bound to one address keeps advertising it")
    }

    func testMediaAdvertisedAddressMustBeAnAddressNotANameOrAWildcard() throws {
        let name = try outcome(Self.file(listener: "address: 127.0.0.1", interface: "address: 0.0.0.0, advertised_address: media.example.net"))
        XCTAssertEqual(name.errors, [
            "\(mainPath):6: media.interfaces[0].advertised_address: 'media.example.net' is not an IP address "
                + "(SDP c= lines and ICE candidates carry addresses, not names)",
        ])
        let wildcard = try outcome(Self.file(listener: "address: 0.0.0.0, advertised_address: 0.0.0.0",
                                             interface: "address: 0.0.0.0, advertised_address: 0.0.0.0"))
        XCTAssertEqual(wildcard.errors, [
            "\(mainPath):3: sip.listeners[0].advertised_address: '0.0.0.0' is a wildcard, not an address peers can reach",
            "\(mainPath):6: media.interfaces[0].advertised_address: '0.0.0.0' is a wildcard, not an address peers can send media to",
        ])
    }

    func testShippedSecureListenerExamplesPassOnceUncommented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = try String(contentsOf: root.appendingPathComponent("config/tandem.yaml"), encoding: .utf8)
        let lines = shipped.components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix("    # - transport: tls") }) else {
            return XCTFail("the shipped config has no commented TLS listener example")
        }
        var example: [String] = []
        for line in lines[start...] {
            guard line.hasPrefix("    # ") else { break }
            example.append("    " + line.dropFirst(6))
        }
        XCTAssertTrue(example.contains { $0.contains("address: 0.0.0.0") }, "\(example)")
        // The examples' certificate files do not exist here; everything else about them must pass.
        let listeners = example.map { $0.hasPrefix("      certificate:") || $0.hasPrefix("      private_key:") ? "" : $0 }
            .filter { !$0.isEmpty }.joined(separator: "\n")
        let found = try outcome("""
            sip:
              listeners:
                - {transport: ws, address: 127.0.0.1, port: 8080}
            \(listeners)

            """).errors
        XCTAssertFalse(found.isEmpty, "the examples need certificates")
        XCTAssertEqual(found.filter { !$0.contains("needs certificate and private_key") }, [],
                       "only the certificates this test leaves out may be missing")
    }

    func testDrainTimeoutAboveTheCeilingIsAWarning() throws {
        let long = try outcome("drain_timeout: 20m\n")
        XCTAssertEqual(long.errors, [])
        XCTAssertEqual(long.configuration?.drainTimeout, .seconds(1200))
        XCTAssertEqual(long.warnings, [
            "\(mainPath):1: drain_timeout: warning: 1200s is over 10 minutes: every stop and restart waits that long for calls "
                + "to end (under systemd, tandemd extends the unit's stop timeout to match)",
        ])
        XCTAssertEqual(try outcome("drain_timeout: 10m\n").warnings, [], "the ceiling itself is fine")
    }
}
