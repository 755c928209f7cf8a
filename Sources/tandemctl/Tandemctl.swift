// tandemctl: the operator's command line over tandemd's control socket.

import ArgumentParser
import Control
import Foundation

@main
struct Tandemctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandemctl",
        abstract: "Ask a running tandemd how it is.",
        version: TandemVersion.current,
        subcommands: [Status.self, Calls.self, Call.self, Hangup.self, Registrations.self, Trunks.self, Drain.self, Undrain.self, Reload.self, Trace.self],
        defaultSubcommand: Status.self)
}

/// Options every subcommand shares.
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Control socket path (default: $TANDEM_CONTROL_SOCKET or \(ControlClient.defaultSocketPath)).")
    var socket: String?

    @Option(help: "Seconds to wait for an answer.")
    var timeout: Double = 5

    var client: ControlClient {
        let path = socket ?? ProcessInfo.processInfo.environment["TANDEM_CONTROL_SOCKET"] ?? ControlClient.defaultSocketPath
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
    static let configuration = CommandConfiguration(abstract: "List the active calls: parties, trunk, state, codecs, relay or transcoding, MOS.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
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
