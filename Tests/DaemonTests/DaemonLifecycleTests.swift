// tandemd as an operator meets it: started with a configuration, asked for its status with
// tandemctl, reloaded with SIGHUP (a broken file is refused), stopped with SIGTERM.

import Foundation
import TandemTestPeers
import TandemTestSupport
import XCTest

final class DaemonLifecycleTests: XCTestCase {
    func testStartsAnswersStatusAndStopsCleanlyOnSIGTERM() throws {
        let daemon = try DaemonUnderTest(drainTimeout: "5s")
        try daemon.start()
        let ready = try XCTUnwrap(daemon.notify.waitFor("READY=1"), "no READY=1; stderr:\n\(daemon.stderr)")
        XCTAssertTrue(ready.contains("MAINPID=\(daemon.pid)"), ready)

        let status = try daemon.status()
        XCTAssertEqual(status.node, "under-test")
        XCTAssertEqual(status.pid, daemon.pid)
        XCTAssertEqual(status.state, "running")
        XCTAssertEqual(status.configFile, daemon.configPath)
        XCTAssertEqual(status.configGeneration, 1)
        XCTAssertEqual(status.listeners.map(\.transport), ["udp", "tcp", "ws"])
        XCTAssertTrue(status.listeners.allSatisfy { $0.port > 0 }, "bound ports are reported, not the 0 asked for")
        XCTAssertEqual(status.activeCalls, 0)
        XCTAssertEqual(status.registrations, 0)
        XCTAssertEqual(Set(status.libraries.keys), ["openssl", "libsrtp2", "libopus", "spandsp"])

        var info = stat()
        XCTAssertEqual(stat(daemon.controlSocket, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o660, "the control socket is not world-accessible")

        let text = try daemon.ctl(["status"])
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.stdout.contains("under-test (tandemd"), text.stdout)
        XCTAssertTrue(text.stdout.contains("Active calls    0"), text.stdout)

        let httpPort = try XCTUnwrap(status.http?.port)
        let health = try httpGet(port: httpPort, path: "/healthz")
        XCTAssertEqual(health.statusLine, "HTTP/1.1 200 OK")
        XCTAssertEqual(health.body, "ok\n")
        XCTAssertEqual(try httpGet(port: httpPort, path: "/nope").statusLine, "HTTP/1.1 404 Not Found")

        let started = Date()
        daemon.send(SIGTERM)
        XCTAssertNotNil(daemon.notify.waitFor("STOPPING=1", timeout: 10), "no STOPPING=1")
        XCTAssertEqual(daemon.waitForExit(timeout: 10), 0, "stderr:\n\(daemon.stderr)")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "with no calls, SIGTERM does not wait for the drain timeout")
        XCTAssertFalse(FileManager.default.fileExists(atPath: daemon.controlSocket), "the control socket is removed")
        XCTAssertTrue(daemon.stderr.contains("drain complete"), daemon.stderr)

        let afterwards = try daemon.ctl(["status"])
        XCTAssertEqual(afterwards.status, 3)
        XCTAssertEqual(afterwards.stderr, "tandemctl: tandemd is not running (nothing answers on \(daemon.controlSocket))\n")
    }

    func testSIGHUPKeepsTheRunningConfigurationWhenTheNewOneIsBroken() throws {
        let daemon = try DaemonUnderTest()
        try daemon.start()
        XCTAssertNotNil(daemon.notify.waitFor("READY=1"), daemon.stderr)
        let before = try daemon.status()

        // A misspelt key: the reload is refused and the old configuration stays in force.
        let good = DaemonUnderTest.config(node: "renamed", drainTimeout: "5s", controlSocket: daemon.controlSocket)
        try daemon.write(config: good.replacingOccurrences(of: "drain_timeout:", with: "drain_timout:"))
        daemon.send(SIGHUP)
        XCTAssertNotNil(daemon.notify.waitFor("RELOADING=1", timeout: 10), "no RELOADING=1")
        XCTAssertNotNil(daemon.notify.waitFor("READY=1", timeout: 10), "no READY=1 after the reload")
        XCTAssertTrue(daemon.isRunning)
        let rejected = try daemon.status()
        XCTAssertEqual(rejected.node, "under-test")
        XCTAssertEqual(rejected.configGeneration, 1)
        XCTAssertEqual(rejected.pid, before.pid)
        let reload = try XCTUnwrap(rejected.lastReload)
        XCTAssertFalse(reload.succeeded)
        XCTAssertEqual(reload.messages, ["\(daemon.configPath):19: drain_timout: unknown key (did you mean 'drain_timeout'?)"])
        XCTAssertTrue(daemon.stderr.contains("new configuration rejected; keeping the running one"), daemon.stderr)
        XCTAssertEqual(rejected.listeners.map(\.port), before.listeners.map(\.port))

        // Fixed: the next SIGHUP applies it, listeners untouched.
        try daemon.write(config: good.replacingOccurrences(of: "level: info", with: "level: debug"))
        daemon.send(SIGHUP)
        XCTAssertNotNil(daemon.notify.waitFor("READY=1", timeout: 10))
        let applied = try daemon.status()
        XCTAssertEqual(applied.node, "renamed")
        XCTAssertEqual(applied.configGeneration, 2)
        XCTAssertEqual(applied.logLevel, "debug")
        XCTAssertEqual(applied.lastReload?.succeeded, true)
        XCTAssertEqual(applied.listeners.map(\.port), before.listeners.map(\.port), "a reload does not rebind listeners")

        daemon.send(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(timeout: 10), 0, daemon.stderr)
    }

    func testWatchdogIsFedWhenSystemdAsks() throws {
        let daemon = try DaemonUnderTest()
        try daemon.start(environment: ["WATCHDOG_USEC": "200000"])
        XCTAssertNotNil(daemon.notify.waitFor("READY=1"), daemon.stderr)
        XCTAssertNotNil(daemon.notify.waitFor("WATCHDOG=1", timeout: 5))
        XCTAssertNotNil(daemon.notify.waitFor("WATCHDOG=1", timeout: 5), "the watchdog is fed repeatedly")
        daemon.send(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(timeout: 10), 0, daemon.stderr)
    }

    func testRefusesToStartWithABrokenConfiguration() throws {
        let daemon = try DaemonUnderTest(extraConfig: "advertised_adress: 192.0.2.1\n")
        try daemon.start()
        XCTAssertEqual(daemon.waitForExit(timeout: 30), 1)
        XCTAssertTrue(daemon.stderr.contains("\(daemon.configPath):20: advertised_adress: unknown key (did you mean 'advertised_address'?)"), daemon.stderr)
        XCTAssertFalse(daemon.notify.received.contains { $0.contains("READY=1") })
    }

    func testRefusesToStartWhenAListenerPortIsTaken() throws {
        // Hold a UDP port, then ask tandemd to listen on it.
        let holder = LoopbackUDPSocket()
        let port = holder.port

        let daemon = try DaemonUnderTest()
        let config = DaemonUnderTest.config(node: "under-test", drainTimeout: "5s", controlSocket: daemon.controlSocket)
        try daemon.write(config: config.replacingOccurrences(of: "{transport: udp, address: 127.0.0.1, port: 0}",
                                                             with: "{transport: udp, address: 127.0.0.1, port: \(port)}"))
        try daemon.start()
        XCTAssertEqual(daemon.waitForExit(timeout: 30), 1)
        XCTAssertTrue(daemon.stderr.contains("cannot bind UDP listener on 127.0.0.1:\(port)"), daemon.stderr)
        XCTAssertFalse(daemon.notify.received.contains { $0.contains("READY=1") }, "READY only after every listener is bound")
        XCTAssertFalse(FileManager.default.fileExists(atPath: daemon.controlSocket))
        withExtendedLifetime(holder) {}  // the port stays taken until here
    }

    func testASecondDaemonOnTheSameControlSocketDoesNotStart() throws {
        let first = try DaemonUnderTest()
        try first.start()
        XCTAssertNotNil(first.notify.waitFor("READY=1"), first.stderr)

        let second = try DaemonUnderTest()
        let config = DaemonUnderTest.config(node: "second", drainTimeout: "5s", controlSocket: first.controlSocket)
        try second.write(config: config)
        try second.start()
        XCTAssertEqual(second.waitForExit(timeout: 30), 1)
        XCTAssertTrue(second.stderr.contains("another tandemd already answers on \(first.controlSocket)"), second.stderr)
        XCTAssertEqual(try first.status().node, "under-test", "the first daemon keeps its socket")

        first.send(SIGTERM)
        XCTAssertEqual(first.waitForExit(timeout: 10), 0)
    }
}

final class CheckConfigTests: XCTestCase {
    func testMisspeltKeyExitsOneNamingFileLineAndKey() throws {
        let directory = NSTemporaryDirectory() + "tandem-check-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tandem.yaml"
        try "node: a\nsip:\n  listners: []\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runTool(Binaries.tandemd, ["--check-config", path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, """
            \(path):3: sip.listners: unknown key (did you mean 'listeners'?)
            \(path): 1 error(s); configuration rejected

            """)
    }

    func testShippedConfigurationChecksClean() throws {
        let path = Binaries.packageRoot.appendingPathComponent("config/tandem.yaml").path
        let result = try runTool(Binaries.tandemd, ["--check-config", path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "")
        XCTAssertEqual(result.stdout, "\(path): configuration OK (3 profile files included)\n")
    }

    func testVersionFlags() throws {
        XCTAssertEqual(try runTool(Binaries.tandemd, ["--version"]).stdout, "0.1.0\n")
        XCTAssertEqual(try runTool(Binaries.tandemctl, ["--version"]).stdout, "0.1.0\n")
    }
}

final class SystemdUnitTests: XCTestCase {
    /// `systemd-analyze verify` on the shipped unit. The unit names the installed binary, so the
    /// check runs on a copy pointing at the built one; any warning (an unknown key, a bad value)
    /// fails the test, not only errors.
    func testUnitFileVerifiesWithoutWarnings() throws {
        try requirePeer("/usr/bin/systemd-analyze", "systemd-analyze (Debian systemd)")
        let unit = try String(contentsOf: Binaries.packageRoot.appendingPathComponent("systemd/tandem.service"), encoding: .utf8)
        XCTAssertTrue(unit.contains("Type=notify"))
        XCTAssertTrue(unit.contains("User=tandem"))
        let directory = NSTemporaryDirectory() + "tandem-unit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let copy = directory + "/tandem.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/tandemd", with: Binaries.tandemd)
            .write(toFile: copy, atomically: true, encoding: .utf8)
        let result = try runTool("/usr/bin/systemd-analyze", ["verify", copy])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "", "systemd-analyze found problems")
    }
}
