// The browser SIP libraries users run, in the browsers they run them in, against the shipped
// configuration: {JsSIP 3.10.10, SIP.js 0.20.0} x {Chromium, Firefox ESR}, each through every
// scenario of Tests/Interop/library_matrix.py (register, a wrong password, calls relayed and
// transcoded, an incoming call, hold, DTMF, hang-up from each side, busy, no answer, cancel,
// the WebSocket cut mid-call, WSS).
//
// tandemd runs with a copy of config/ as shipped, changed only where a test must:
//   - a profile file adds the trunk `pbx` (sipp, on loopback) and routes 3xxx to it (the shipped 2xxx go to local-pbx);
//   - the shipped WSS listener example is turned on, with a certificate from a CA made here;
//   - for Firefox, the media interface moves from 127.0.0.1 to the namespace's veth address
//     (Firefox pairs no host candidate with a loopback one: docs/interop.md);
//   - the control socket is given on the command line.
// Everything runs in a network namespace of the test's own (loopback and one veth pair, no route
// out), so the shipped ports can be used as they are.
//
// The libraries come from the vendor directory: $TANDEM_VENDOR_DIR, or the nearest shared/vendor
// beside the repository or above it. They are served to the page from there and never copied into the project.
// A missing browser, sipp, library or tool fails the test: `make test` installs them all.
//
// Each row's cells are written to .build/interop-matrix/<library>-<browser>.json (or
// $TANDEM_INTEROP_RESULTS); scripts/interop-matrix.py turns them into docs/interop.md's matrix.

import Foundation
import TandemTestPeers
import TandemTestSupport
import XCTest

final class LibraryMatrixTests: XCTestCase {
    enum Library: String { case jssip, sipjs }
    enum Browser: String { case chromium, firefox }

    /// The cells every row must have, in the order the driver runs them.
    static let cells = [
        "register-wrong-password", "register", "outbound-relayed", "dtmf", "hold-resume", "hangup-from-browser",
        "outbound-transcoded", "inbound", "hangup-from-trunk", "busy", "no-answer", "cancel-while-ringing",
        "websocket-drop", "wss",
    ]

    func testJsSIPInChromium() throws { try row(.jssip, .chromium) }
    func testSIPjsInChromium() throws { try row(.sipjs, .chromium) }
    func testJsSIPInFirefox() throws { try row(.jssip, .firefox) }
    func testSIPjsInFirefox() throws { try row(.sipjs, .firefox) }

    /// $TANDEM_VENDOR_DIR, or the nearest `shared/vendor` beside the repository or above it.
    static var vendorDirectory: String {
        if let explicit = ProcessInfo.processInfo.environment["TANDEM_VENDOR_DIR"] { return explicit }
        var directory = Binaries.packageRoot.deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("shared/vendor").path
            if FileManager.default.fileExists(atPath: candidate + "/jssip-3.10.10.js") { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return Binaries.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vendor").path
    }

    private func row(_ library: Library, _ browser: Browser) throws {
        guard getuid() == 0 else {
            XCTFail("the library matrix makes a network namespace and needs root (make test runs as root)")
            return
        }
        try requirePeer("/usr/bin/sipp", "sipp (Debian sip-tester)")
        try requirePeer("/usr/bin/unshare", "unshare (util-linux)")
        try requirePeer("/usr/bin/nsenter", "nsenter (util-linux)")
        try requirePeer("/usr/bin/ss", "ss (Debian iproute2)")
        try requirePeer("/usr/bin/openssl", "openssl")
        switch browser {
        case .chromium: try requirePeer("/usr/lib/chromium/chromium", "Chromium (Debian chromium)")
        case .firefox:
            try requirePeer("/usr/bin/firefox-esr", "Firefox ESR (Debian firefox-esr)")
            try requirePeer("/usr/bin/certutil", "certutil (Debian libnss3-tools)")
        }
        try InteropPeer.require("library_matrix.py")
        let libraryFile = library == .jssip ? "jssip-3.10.10.js" : "sip-0.20.0.js"
        guard FileManager.default.fileExists(atPath: Self.vendorDirectory + "/" + libraryFile) else {
            return XCTFail("\(libraryFile) is missing in \(Self.vendorDirectory) (the vendor directory; set TANDEM_VENDOR_DIR)")
        }

        let directory = NSTemporaryDirectory() + "tandem-matrix-\(library.rawValue)-\(browser.rawValue)-\(UUID().uuidString.prefix(6))"
        let trunkPort = 5070
        let (config, password) = try DaemonUnderTest.shippedConfiguration(in: directory, trunkPort: trunkPort, profile: "matrix-pbx",
                                                                         by: "LibraryMatrixTests")

        // The WSS listener: the shipped example, turned on, with a certificate for 127.0.0.1 from
        // a CA made here (Firefox trusts the CA in its profile; Chromium ignores certificate
        // errors).
        let authority = directory + "/ca.pem", authorityKey = directory + "/ca.key"
        let certificate = directory + "/wss.pem", key = directory + "/wss.key", request = directory + "/wss.csr"
        let extensions = directory + "/wss.ext"
        try "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        for arguments in [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", "/CN=Tandem test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
             "-keyout", authorityKey, "-out", authority],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", key, "-out", request],
            ["x509", "-req", "-in", request, "-CA", authority, "-CAkey", authorityKey, "-CAcreateserial", "-days", "2",
             "-extfile", extensions, "-out", certificate],
        ] {
            let made = try runTool("/usr/bin/openssl", arguments)
            XCTAssertEqual(made.status, 0, made.stderr)
        }
        var main = try String(contentsOfFile: config + "/tandem.yaml", encoding: .utf8)
        // Firefox gathers only on the veth address and pairs no host candidate with a loopback one.
        let vethAddress = "10.77.0.1"
        let shippedWSS = """
                # - transport: wss
                #   address: 0.0.0.0
                #   advertised_address: 203.0.113.10
                #   port: 8443
                #   certificate: /etc/tandem/tls/fullchain.pem
                #   private_key: /etc/tandem/tls/privkey.pem
            """
        XCTAssertTrue(main.contains(shippedWSS), "the shipped config's WSS example changed; update this test")
        main = main.replacingOccurrences(of: shippedWSS, with: """
                - transport: wss
                  address: 0.0.0.0
                  advertised_address: \(browser == .firefox ? vethAddress : "127.0.0.1")
                  port: 8443
                  certificate: \(certificate)
                  private_key: \(key)
            """)
        if browser == .firefox {
            let shippedMedia = "    - name: default\n      address: 127.0.0.1\n"
            XCTAssertTrue(main.contains(shippedMedia), "the shipped config's media interface changed; update this test")
            main = main.replacingOccurrences(of: shippedMedia, with: "    - name: default\n      address: \(vethAddress)\n")
        }
        try main.write(toFile: config + "/tandem.yaml", atomically: true, encoding: .utf8)
        let daemon = try DaemonUnderTest(directory: directory, configPath: config + "/tandem.yaml")
        let setup = [
            "ip link set lo up", "ip link add v0 type veth peer name v1", "ip addr add \(vethAddress)/24 dev v0",
            "ip link set v0 up", "ip link set v1 up", "ip route add default via 10.77.0.254",
        ].joined(separator: " && ")
        try daemon.start(arguments: ["--control-socket", daemon.controlSocket],
                         wrapper: ["/usr/bin/unshare", "-n", "/bin/sh", "-c", setup + " && exec \"$0\" \"$@\""])
        defer {
            if daemon.isRunning {
                daemon.send(SIGTERM)
                _ = daemon.waitForExit(timeout: 15)
            }
        }
        XCTAssertNotNil(daemon.notify.waitFor("READY=1"), daemon.stderr)
        let status = try daemon.status()
        XCTAssertEqual(Set(status.listeners.map { "\($0.transport):\($0.port)" }), ["udp:5060", "tcp:5060", "ws:8080", "wss:8443"])

        let command = [
            "/usr/bin/nsenter", "--net=/proc/\(daemon.pid)/ns/net", InteropPeer.python, InteropPeer.script("library_matrix.py"),
            "--library", library.rawValue, "--browser", browser.rawValue, "--vendor", Self.vendorDirectory,
            "--ws-url", "ws://127.0.0.1:8080", "--ws-port", "8080", "--wss-url", "wss://127.0.0.1:8443", "--wss-port", "8443",
            "--certificate", authority, "--user", "1001", "--password", password, "--number", "3000",
            "--sip-port", "5060", "--trunk-port", String(trunkPort), "--uac-port", "5071",
            "--media-port", "40000", "--sipp-media-port", "40010",
            "--scenarios", Binaries.packageRoot.appendingPathComponent("Tests/DaemonTests/Scenarios").path,
            "--tandemctl", Binaries.tandemctl, "--control-socket", daemon.controlSocket, "--work", directory,
        ]
        let run = try runTool(command[0], Array(command.dropFirst()))
        let logs = { "driver:\n\(run.stderr.suffix(4000))\ntandemd:\n\(daemon.stderr.suffix(4000))" }
        let line = try XCTUnwrap(run.stdout.split(separator: "\n").last, logs())
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], logs())
        try record(line, library: library, browser: browser)
        XCTAssertTrue(result["error"] is NSNull, "\(result["error"] ?? "")\n\(logs())")

        let cells = result["cells"] as? [String: [String: Any]] ?? [:]
        for name in Self.cells {
            guard let cell = cells[name] else {
                XCTFail("\(library.rawValue) in \(browser.rawValue): no result for \(name)")
                continue
            }
            let failed = (cell["checks"] as? [[Any]] ?? []).filter { ($0[1] as? Bool) != true }
            XCTAssertEqual(cell["passed"] as? Bool, true,
                           "\(library.rawValue) in \(browser.rawValue), \(name): \(cell["error"] ?? "") failed checks: \(failed)")
        }
        if cells.values.contains(where: { $0["passed"] as? Bool != true }) {
            print(logs())
        }

        // Afterwards: tandemd is up with no call left, and stops cleanly.
        XCTAssertTrue(daemon.isRunning, logs())
        let after = try daemon.status()
        XCTAssertEqual(after.activeCalls, 0)
        XCTAssertEqual(after.media?["ports_in_use"], 0, "every media port back in the pool")
        // Every call of the row ended by a hang-up, a refusal or a lost connection: none of
        // them is a media failure, though the browsers close DTLS as they hang up.
        XCTAssertEqual(after.media?["media_failures"], 0, "clean endings counted as media failures: "
                       + daemon.stderr.split(separator: "\n").filter { $0.contains("media failed") || $0.contains("call ended") }.joined(separator: "\n"))
        daemon.send(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(timeout: 15), 0, daemon.stderr.suffix(3000).description)
    }

    /// Keeps the row's result for docs/interop.md (scripts/interop-matrix.py).
    private func record(_ line: Substring, library: Library, browser: Browser) throws {
        let directory = ProcessInfo.processInfo.environment["TANDEM_INTEROP_RESULTS"]
            ?? Binaries.packageRoot.appendingPathComponent(".build/interop-matrix").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try String(line).write(toFile: directory + "/\(library.rawValue)-\(browser.rawValue).json", atomically: true, encoding: .utf8)
    }
}
