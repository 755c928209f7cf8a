// tandemd: the Tandem gateway daemon. Parses arguments, checks or loads the configuration, binds
// every listener, and runs the node as a swift-service-lifecycle ServiceGroup until SIGTERM.

import ArgumentParser
import Control
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TandemConfig
import UnixSignals

@main
struct Tandemd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandemd",
        abstract: "Tandem: a WebRTC-to-SIP media gateway daemon.",
        discussion: """
            Loads the configuration (default \(ConfigurationLoader.defaultPath)) and the profile files it \
            includes, binds every listener, and runs until SIGTERM, which drains calls first. SIGHUP \
            reloads the configuration; a broken file is rejected and the running one kept.
            """,
        version: TandemVersion.current)

    @Option(name: [.short, .long], help: "The configuration file.")
    var config: String?

    @Flag(name: .customLong("check-config"), help: "Check the configuration and exit: 0 when it is usable, 1 otherwise.")
    var checkConfig = false

    @Argument(help: "The configuration file (the same as --config).")
    var configPath: String?

    @Option(name: .customLong("log-level"), help: "Log level, overriding the configuration: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevel?

    @Option(name: .customLong("control-socket"), help: "Control socket path, overriding the configuration.")
    var controlSocket: String?

    func validate() throws {
        if config != nil && configPath != nil && config != configPath {
            throw ValidationError("give the configuration file once, either with --config or as an argument")
        }
    }

    func run() async throws {
        let path = configPath ?? config ?? ConfigurationLoader.defaultPath
        if checkConfig { throw ExitCode(Tandemd.check(path: path)) }

        let loaded: LoadedConfiguration
        do {
            loaded = try ConfigurationLoader().load(path: path)
        } catch {
            Tandemd.printDiagnostics(error.diagnostics)
            Tandemd.printError("tandemd: \(error.errors.count) error(s) in the configuration; not starting")
            throw ExitCode.failure
        }
        let configuration = loaded.configuration

        let environment = ProcessInfo.processInfo.environment
        let threshold = LogThreshold(logLevel.map(Logger.Level.init) ?? Logger.Level(configuration.logLevel))
        let journal = environment["JOURNAL_STREAM"] != nil
        LoggingSystem.bootstrap { label in TandemLogHandler(label: label, threshold: threshold, journal: journal) }
        var logger = Logger(label: "tandemd")
        logger[metadataKey: "node"] = "\(configuration.node)"
        for warning in loaded.warnings { logger.warning("\(warning)") }

        let controlSocket = self.controlSocket
            ?? Tandemd.userControlSocket(for: configuration.control, environment: environment, logger: logger)
        let workers = configuration.workers == 0 ? System.coreCount : configuration.workers
        let group = MultiThreadedEventLoopGroup(numberOfThreads: workers)
        let notifier = SystemdNotifier(environment: environment)
        let daemon = Daemon(
            configPath: path, configuration: configuration,
            overrides: Daemon.Overrides(logLevel: logLevel.map(Logger.Level.init), controlSocket: controlSocket),
            group: group, workers: workers, notifier: notifier, threshold: threshold, logger: logger)
        logger.info("starting", metadata: ["version": "\(TandemVersion.current)", "config": "\(path)", "workers": "\(workers)"])

        // Trap SIGHUP before anything can be told we are ready to take one.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        var failure: String?
        do {
            try await daemon.bindAll()
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: DaemonService(daemon: daemon)),
                .init(service: ReloadService(daemon: daemon, signals: hangups)),
            ]
            if let interval = SystemdNotifier.watchdogInterval(environment: environment) {
                services.append(.init(service: WatchdogService(notifier: notifier, interval: interval)))
            }
            var groupConfiguration = ServiceGroupConfiguration(services: services, logger: logger)
            groupConfiguration.gracefulShutdownSignals = [.sigterm, .sigint]
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch {
            failure = "\(error)"
        }
        try? await group.shutdownGracefully()
        if let failure {
            logger.critical("cannot run: \(failure)")
            throw ExitCode.failure
        }
        logger.notice("stopped")
    }

    /// The per-user control socket, when the configuration leaves the path at its default and
    /// this user cannot create it (`make run` without root, no systemd RuntimeDirectory=); nil
    /// keeps the configured path. Said at notice, since tandemctl has to find it.
    static func userControlSocket(for control: ControlSettings, environment: [String: String], logger: Logger) -> String? {
        guard control.socketPathIsDefault, !ControlSocketLocation.canCreate(socketAt: control.socketPath) else { return nil }
        let path = ControlSocketLocation.userPath(environment: environment)
        let directory = (control.socketPath as NSString).deletingLastPathComponent
        logger.notice("control socket at \(path): \(directory) is not writable for this user and control.socket is not set", metadata: [
            "path": "\(path)",
        ])
        return path
    }

    /// `--check-config`: prints every problem and returns the exit code.
    static func check(path: String) -> Int32 {
        do {
            let loaded = try ConfigurationLoader().load(path: path)
            printDiagnostics(loaded.warnings)
            let files = loaded.configuration.includedFiles.count
            print("\(path): configuration OK (\(files) profile file\(files == 1 ? "" : "s") included)")
            return 0
        } catch {
            printDiagnostics(error.diagnostics)
            printError("\(path): \(error.errors.count) error(s); configuration rejected")
            return 1
        }
    }

    static func printDiagnostics(_ diagnostics: [ConfigDiagnostic]) {
        for diagnostic in diagnostics { printError(diagnostic.description) }
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

extension LogLevel: ExpressibleByArgument {}
