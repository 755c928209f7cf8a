// tandemctl: the operator's command line over tandemd's control socket.

import ArgumentParser
import Control
import Foundation
#if canImport(Glibc)
import Glibc
#endif

@main
struct Tandemctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandemctl",
        abstract: "Ask a running tandemd how it is.",
        discussion: "Every command takes --json (snake_case keys, as the CDR file).",
        version: TandemVersion.current,
        subcommands: [Status.self, Calls.self, Call.self, Hangup.self, Registrations.self, Trunks.self, Drain.self, Undrain.self, Reload.self, Trace.self],
        defaultSubcommand: Status.self)

    /// The command names, for the error about a mistyped one.
    static var commandNames: [String] { configuration.subcommands.map { $0._commandName } }

    /// A first argument that is neither an option nor a command is a mistyped command: say so
    /// and list the commands, rather than let the default `status` reject it as its argument.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let first = arguments.first, !first.hasPrefix("-"), !(commandNames + ["help"]).contains(first) {
            printError("tandemctl: unknown command '\(first)'")
            printError("commands: \(commandNames.joined(separator: ", ")) (tandemctl help COMMAND for one)")
            Glibc.exit(64)
        }
        main(arguments)
    }
}

/// Options every subcommand shares.
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.short, .long], help: ArgumentHelp(
        "Control socket path.",
        discussion: "Default: the first that exists of $TANDEM_CONTROL_SOCKET, \(ControlSocketLocation.systemPath), "
            + "$XDG_RUNTIME_DIR/tandem/control.sock and ./.tandem/control.sock (where tandemd goes when it cannot create the system path)."))
    var socket: String?

    @Option(help: "Seconds to wait for an answer.")
    var timeout: Double = 5

    var client: ControlClient {
        let path = socket ?? ControlSocketLocation.lookup(environment: ProcessInfo.processInfo.environment)
        return ControlClient(path: path, timeout: .milliseconds(Int64(max(0.1, timeout) * 1000)))
    }

    /// Sends `command`; prints the reason and exits non-zero when the daemon cannot answer.
    func request(_ command: String, argument: String? = nil, callID: String? = nil, user: String? = nil) throws -> ControlResponse {
        let response: ControlResponse
        do {
            response = try client.send(ControlRequest(command: command, argument: argument, callID: callID, user: user))
        } catch {
            printError("tandemctl: \(error.description)")
            throw ExitCode(error.kind == .notRunning ? 3 : 1)
        }
        guard response.ok else {
            printError("tandemctl: tandemd refused the request: \(response.error ?? "no reason given")")
            throw ExitCode.failure
        }
        return response
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show version, uptime, configuration, listeners, calls and registrations.")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() throws {
        let response = try connection.request("status")
        guard let status = response.status else {
            printError("tandemctl: tandemd answered without a status")
            throw ExitCode.failure
        }
        if json {
            let encoder = ControlProtocol.encoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
        } else {
            print(StatusFormatter.text(status))
        }
    }
}

/// Prints `value` as indented JSON.
func printJSON<Value: Encodable>(_ value: Value) throws {
    let encoder = ControlProtocol.encoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct Calls: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the active calls: parties, trunk, state, codecs, relay or transcoding, MOS.",
        discussion: "With --recent, the last ended calls instead, failed ones included: start, duration, result "
            + "(answered, cancelled or the SIP status), who ended each and why.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Show the last ended calls, newest first.") var recent = false
    @Option(help: "With --recent, how many (at most \(ControlProtocol.recentCallsLimit)).") var limit = ControlProtocol.recentCallsLimit
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be a positive count") }
    }

    func run() throws {
        if recent {
            let calls = try connection.request("recent_calls", argument: String(limit)).recentCalls ?? []
            if json { try printJSON(calls) } else { print(CallFormatter.recent(calls)) }
            return
        }
        let calls = try connection.request("calls").calls ?? []
        if json { try printJSON(calls) } else { print(CallFormatter.calls(calls)) }
    }
}

struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one call in detail: both legs, addresses, ICE, DTLS, SRTP, packets, loss, jitter, RTT, MOS.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The call id (from tandemctl calls).") var id: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        guard let detail = try connection.request("call", argument: id).call else { throw ExitCode.failure }
        if json { try printJSON(detail) } else { print(CallFormatter.detail(detail)) }
    }
}

struct Hangup: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End a call (BYE on both legs with a Reason saying the operator ended it).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The call id.") var id: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let response = try connection.request("hangup", argument: id)
        if json { try printJSON(["message": response.message ?? ""]) } else { print(response.message ?? "done") }
    }
}

struct Registrations: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List registered browser contacts.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let registrations = try connection.request("registrations").registrations ?? []
        if json { try printJSON(registrations) } else { print(CallFormatter.registrations(registrations)) }
    }
}

struct Trunks: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List trunks: up or down, OPTIONS round trip, registration, calls.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let trunks = try connection.request("trunks").trunks ?? []
        if json { try printJSON(trunks) } else { print(CallFormatter.trunks(trunks)) }
    }
}

/// drain, undrain and reload: a command and the daemon's one-line answer.
protocol MessageCommand: ParsableCommand {
    static var command: String { get }
    var connection: ConnectionOptions { get }
    var json: Bool { get }
}

extension MessageCommand {
    func run() throws {
        let response = try connection.request(Self.command)
        if json { try printJSON(["message": response.message ?? ""]) } else { print(response.message ?? "done") }
    }
}

struct Drain: MessageCommand {
    static let configuration = CommandConfiguration(abstract: "Stop taking new calls (503); calls in progress go on. /healthz answers 503.")
    static let command = "drain"
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON.") var json = false
}

struct Undrain: MessageCommand {
    static let configuration = CommandConfiguration(abstract: "Take new calls again after a drain.")
    static let command = "undrain"
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON.") var json = false
}

struct Reload: MessageCommand {
    static let configuration = CommandConfiguration(abstract: "Reload the configuration (as SIGHUP does); a broken file is refused and the running one kept.")
    static let command = "reload"
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON.") var json = false
}

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the SIP trace, or turn it on or off (log and HEP as configured in the trace section).",
        discussion: "tandemctl trace on [--call ID] [--user U] traces every SIP message, or only those of one Call-ID or one user (Request-URI, From or To); tandemctl trace off stops it. The setting lasts until a reload changes the trace section or tandemd restarts.")

    enum Switch: String, ExpressibleByArgument, CaseIterable { case on, off }

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "on or off; leave out to show the state.") var state: Switch?
    @Option(name: .customLong("call"), help: "With on: only messages of this Call-ID.") var callID: String?
    @Option(help: "With on: only messages whose Request-URI, From or To user is this.") var user: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if state != .on && (callID != nil || user != nil) {
            throw ValidationError("--call and --user go with 'trace on'")
        }
    }

    func run() throws {
        let response = try connection.request("trace", argument: state?.rawValue, callID: callID, user: user)
        guard let trace = response.trace else {
            printError("tandemctl: tandemd answered without the trace state")
            throw ExitCode.failure
        }
        if json { try printJSON(trace) } else { print(trace.text) }
    }
}
