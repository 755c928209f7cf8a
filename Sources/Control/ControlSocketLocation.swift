// Where the control socket lives when nobody says: /run/tandem/control.sock for a system daemon
// (systemd's RuntimeDirectory=tandem makes it), and for a user who cannot write there (`make
// run` without root) $XDG_RUNTIME_DIR/tandem/control.sock, or .tandem/control.sock in the current
// directory when XDG_RUNTIME_DIR is unset. tandemd picks one; tandemctl looks in the same places.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

public enum ControlSocketLocation {
    /// The system daemon's socket, and the default of `control.socket`.
    public static let systemPath = "/run/tandem/control.sock"
    /// The environment variable naming the socket for tandemctl.
    public static let environmentVariable = "TANDEM_CONTROL_SOCKET"

    /// The socket of a daemon run by a user who cannot create the system path: under
    /// $XDG_RUNTIME_DIR when that is set, else under `directory` (the current directory).
    public static func userPath(environment: [String: String], directory: String = FileManager.default.currentDirectoryPath) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return (runtime as NSString).appendingPathComponent("tandem/control.sock")
        }
        return (directory as NSString).appendingPathComponent(".tandem/control.sock")
    }

    /// Where tandemctl looks, in order: $TANDEM_CONTROL_SOCKET, the system path, the
    /// $XDG_RUNTIME_DIR path, then `.tandem/control.sock` in the current directory.
    public static func candidates(environment: [String: String]) -> [String] {
        var paths: [String] = []
        if let explicit = environment[environmentVariable], !explicit.isEmpty { paths.append(explicit) }
        paths.append(systemPath)
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            paths.append((runtime as NSString).appendingPathComponent("tandem/control.sock"))
        }
        paths.append(".tandem/control.sock")
        return paths
    }

    /// The first candidate that exists; the first candidate when none does (so the error names
    /// the place a system daemon would answer, or the one the user asked for).
    public static func lookup(environment: [String: String]) -> String {
        let paths = candidates(environment: environment)
        return paths.first { access($0, F_OK) == 0 } ?? paths[0]
    }

    /// Whether this process can create a socket at `path`: its directory is writable, or is
    /// missing and the nearest existing ancestor is writable (the server creates it).
    public static func canCreate(socketAt path: String) -> Bool {
        var directory = (path as NSString).deletingLastPathComponent
        if directory.isEmpty { directory = "." }
        while access(directory, F_OK) != 0 {
            let parent = (directory as NSString).deletingLastPathComponent
            if parent == directory || parent.isEmpty { return false }
            directory = parent
        }
        return access(directory, W_OK | X_OK) == 0
    }
}
