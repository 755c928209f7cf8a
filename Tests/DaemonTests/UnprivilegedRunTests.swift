// `make run` as a user who cannot write /run/tandem: the shipped configuration leaves the control
// socket at its default, so tandemd puts it under $XDG_RUNTIME_DIR, says so, and tandemctl finds
// it there without being told.

import Foundation
import TandemTestPeers
import XCTest

final class UnprivilegedRunTests: XCTestCase {
    func testTheShippedConfigurationStartsAsNobodyWithTheControlSocketUnderXDGRuntimeDir() throws {
        try requirePeer("/usr/bin/setpriv", "setpriv (util-linux)")
        try requirePeer("/usr/bin/unshare", "unshare (util-linux)")
        guard getuid() == 0 else { return XCTFail("switching to nobody needs root (make test runs as root)") }
        let directory = NSTemporaryDirectory() + "tandem-nobody-\(UUID().uuidString.prefix(6))"
        let config = directory + "/config", runtime = directory + "/runtime"
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Binaries.packageRoot.appendingPathComponent("config").path, toPath: config)
        XCTAssertEqual(chown(runtime, 65534, 65534), 0)
        XCTAssertEqual(chmod(runtime, 0o700), 0)
        chmod(directory, 0o755)

        let daemon = try DaemonUnderTest(directory: directory, configPath: config + "/tandem.yaml")
        chmod(daemon.notify.path, 0o777)
        // Its own network namespace: the shipped fixed ports (5060, 8080, 9090...) collide with nothing.
        try daemon.start(environment: ["XDG_RUNTIME_DIR": runtime], wrapper: [
            "/usr/bin/unshare", "-n", "/bin/sh", "-c",
            "ip link set lo up && exec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups \"$0\" \"$@\"",
        ])
        defer {
            if daemon.isRunning {
                daemon.send(SIGTERM)
                _ = daemon.waitForExit(timeout: 15)
            }
        }
        XCTAssertNotNil(daemon.notify.waitFor("READY=1", timeout: 30), daemon.stderr)
        let socket = runtime + "/tandem/control.sock"
        XCTAssertTrue(daemon.stderr.contains("control socket at \(socket): /run/tandem is not writable for this user and control.socket is not set"),
                      daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains(" notice "), "said at notice: \(daemon.stderr)")
        var info = stat()
        XCTAssertEqual(stat(socket, &info), 0)
        XCTAssertEqual(info.st_uid, 65534, "the socket belongs to the user tandemd runs as")

        // tandemctl finds it with no --socket (as long as no system daemon answers on /run/tandem).
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_RUNTIME_DIR"] = runtime
        environment.removeValue(forKey: "TANDEM_CONTROL_SOCKET")
        let status = try runTool(Binaries.tandemctl, ["status", "--json"], environment: environment)
        if !FileManager.default.fileExists(atPath: "/run/tandem/control.sock") {
            XCTAssertEqual(status.status, 0, status.stderr)
            let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            XCTAssertEqual(report?["control_socket"] as? String, socket)
            XCTAssertEqual(report?["node"] as? String, "tandem-dev")
        }
        daemon.send(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(timeout: 15), 0, daemon.stderr.suffix(2000).description)
        XCTAssertFalse(FileManager.default.fileExists(atPath: socket), "the socket is removed at exit")
    }
}
