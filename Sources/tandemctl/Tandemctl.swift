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
        subcommands: [Status.self],
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
    func request(_ command: String) throws -> ControlResponse {
        let response: ControlResponse
        do {
            response = try client.send(ControlRequest(command: command))
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
