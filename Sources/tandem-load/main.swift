// tandem-load: N concurrent calls on loopback through a gateway, both ends played by this
// process: the browser end (ICE, DTLS, SRTP, Opus or PCMU) and the trunk end (RTP, PCMU), a
// speech-like signal at 50 packets/s each way. Reports the gateway's CPU per call-second (from
// /proc, over a steady window), packet loss each way and added latency, for transcoded and
// relayed calls, through tandemd and through Debian's rtpengine in the same run, and the ratios;
// relayed calls also through tandem-floor (bench/floor/floor.c), a minimal C relay doing the same
// work with the fewest system calls and wake-ups, the floor any gateway's figure is read against.
//
// Knobs (environment): TANDEM_LOAD_CALLS (default 30), TANDEM_LOAD_SECONDS (window, default 20),
// TANDEM_LOAD_WARMUP (default 3), TANDEM_LOAD_MODES (transcoded,relayed),
// TANDEM_LOAD_GATEWAYS (tandem,rtpengine,floor; the floor runs relayed only),
// TANDEM_LOAD_WORKERS (tandemd worker loops, default one per core), TANDEM_LOAD_OVERLOAD_MAX_LOAD
// (media.max_load for the overload run, default 5; 0 skips it), TANDEM_LOAD_MEDIA (extra keys for
// tandemd's media section, `;`-separated, such as `relayed_read_interval: 10ms`),
// TANDEM_LOAD_ROUNDS (default 1: each mode runs through every gateway this many times,
// alternating, and the comparison uses each gateway's median; this machine's figures move by a
// fifth between runs, so alternating rounds keep drift from favouring one gateway),
// TANDEM_LOAD_CAPACITY (modes to find each gateway's capacity in, e.g. relayed,transcoded; none
// by default, both in make bench), TANDEM_LOAD_CAPACITY_LIMIT (default 480 calls),
// TANDEM_LOAD_CAPACITY_SECONDS (default 8 per step),
// TANDEM_LOAD_STRACE (1: system calls per relayed packet, from strace attached to each gateway
// over each relayed window; strace inflates those runs' CPU figures).
// The generator shares the machine with the gateway under test; it is kept cheap (pre-encoded
// audio, one sender and one receiver thread) and its own CPU is reported too.

import DTLS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A line on stdout at once (progress shows while the run goes on, even through a pipe).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let environment = ProcessInfo.processInfo.environment
let callCount = Int(environment["TANDEM_LOAD_CALLS"] ?? "") ?? 30
let seconds = Double(environment["TANDEM_LOAD_SECONDS"] ?? "") ?? 20
let warmup = Double(environment["TANDEM_LOAD_WARMUP"] ?? "") ?? 3
let modes = (environment["TANDEM_LOAD_MODES"] ?? "transcoded,relayed").split(separator: ",").compactMap { CallMode(rawValue: String($0)) }
let gateways = (environment["TANDEM_LOAD_GATEWAYS"] ?? "tandem,rtpengine,floor").split(separator: ",").map(String.init)
let rounds = max(1, Int(environment["TANDEM_LOAD_ROUNDS"] ?? "") ?? 1)
let capacityModes = (environment["TANDEM_LOAD_CAPACITY"] ?? "").split(separator: ",").compactMap { CallMode(rawValue: String($0)) }
let capacityLimit = Int(environment["TANDEM_LOAD_CAPACITY_LIMIT"] ?? "") ?? 480
let capacitySeconds = Double(environment["TANDEM_LOAD_CAPACITY_SECONDS"] ?? "") ?? 8
let binDirectory = environment["TANDEM_BIN_DIR"]
    ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
let tandemd = binDirectory + "/tandemd"
let floorBinary = FloorGateway.binary(in: binDirectory)
let straceEnabled = environment["TANDEM_LOAD_STRACE"] == "1"
let extraMedia = (environment["TANDEM_LOAD_MEDIA"] ?? "").split(separator: ";").map { "  " + $0.trimmingCharacters(in: .whitespaces) }
    .joined(separator: "\n")

// Two sockets a call, and the gateways started from here inherit the limit: take the hard one.
var openFiles = rlimit()
if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &openFiles) == 0, openFiles.rlim_cur < openFiles.rlim_max {
    openFiles.rlim_cur = openFiles.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &openFiles)
}

let audio = try PreparedAudio()
let certificate = try DTLSCertificate.selfSigned(commonName: "tandem-load")
/// Packets each stream log of a call can hold: the longest window run, warm-up and tail included.
let logCapacity = Int((warmup + max(seconds, capacitySeconds)) * 50) + 100

func makeCalls(_ mode: CallMode, count: Int, from first: Int = 0) throws -> [LoadCall] {
    let relayedPayloads = Set(audio.pcmu)
    return try (first..<(first + count)).map {
        let call = try LoadCall(index: $0, mode: mode, certificate: certificate, capacity: logCapacity)
        if mode == .relayed { call.expectedTrunkPayloads = relayedPayloads }
        return call
    }
}

/// The load run on established calls; relayed runs under TANDEM_LOAD_STRACE=1 also count the
/// gateway's system calls.
func measure(_ calls: [LoadCall], _ mode: CallMode, gateway: String, pid: Int32, seconds: Double) throws -> LoadFigures {
    try countingSyscalls(of: pid, gateway: gateway, enabled: straceEnabled && mode == .relayed, warmup: warmup, seconds: seconds) {
        try runLoad(calls: calls, audio: audio, gatewayPID: pid, warmup: warmup, seconds: seconds)
    }
}

/// `count` calls of `mode` through the named gateway, measured for `seconds`.
func run(_ name: String, _ mode: CallMode, count: Int = callCount, seconds: Double = seconds) async throws -> LoadFigures {
    switch name {
    case "tandem": return try await runTandem(mode, count: count, seconds: seconds)
    case "floor": return try runFloor(mode, count: count, seconds: seconds)
    default: return try runRTPEngine(mode, count: count, seconds: seconds)
    }
}

func runTandem(_ mode: CallMode, count: Int, seconds: Double) async throws -> LoadFigures {
    let gateway = try TandemGateway(binary: tandemd, extraMedia: extraMedia)
    do {
        try await gateway.waitUntilReady()
        let calls = try makeCalls(mode, count: count)
        for call in calls {
            let answer = try await gateway.place(call)
            try call.connect(answer: answer)
        }
        let figures = try measure(calls, mode, gateway: "tandem", pid: gateway.pid, seconds: seconds)
        await gateway.hangUpAll()
        await gateway.shutdown()
        return figures
    } catch {
        let kept = NSTemporaryDirectory() + "tandem-load-tandemd.log"
        try? gateway.stderr.write(toFile: kept, atomically: true, encoding: .utf8)
        let crash = gateway.stderr.components(separatedBy: "\n").filter { $0.contains("Fatal error") || $0.contains("crashed") || $0.contains("error") }
        FileHandle.standardError.write(Data("tandemd log (whole log kept in \(kept)):\n\(crash.prefix(20).joined(separator: "\n"))\n".utf8))
        await gateway.shutdown()
        throw error
    }
}

/// A gateway other than tandemd, driven from this thread: rtpengine and the floor.
protocol ExternalGateway {
    var pid: Int32 { get }
    var log: String { get }
    func waitUntilReady() throws
    func place(_ call: LoadCall) throws -> String
    func hangUpAll()
    func shutdown()
}

extension RTPEngineGateway: ExternalGateway {}
extension FloorGateway: ExternalGateway {}

func runRTPEngine(_ mode: CallMode, count: Int, seconds: Double) throws -> LoadFigures {
    try runExternal(try RTPEngineGateway(), "rtpengine", mode, count: count, seconds: seconds)
}

func runFloor(_ mode: CallMode, count: Int, seconds: Double) throws -> LoadFigures {
    try runExternal(try FloorGateway(binary: floorBinary), "floor", mode, count: count, seconds: seconds)
}

func runExternal(_ gateway: some ExternalGateway, _ name: String, _ mode: CallMode, count: Int, seconds: Double) throws -> LoadFigures {
    do {
        try gateway.waitUntilReady()
        let calls = try makeCalls(mode, count: count)
        for call in calls { try call.connect(answer: try gateway.place(call)) }
        let figures = try measure(calls, mode, gateway: name, pid: gateway.pid, seconds: seconds)
        gateway.hangUpAll()
        gateway.shutdown()
        return figures
    } catch {
        FileHandle.standardError.write(Data("\(name) log:\n\(gateway.log.suffix(3000))\n".utf8))
        gateway.shutdown()
        throw error
    }
}

/// Admission control under overload: `count` calls of `mode` carry media through a tandemd with
/// `media.max_load` at `maxLoad`; then as many calls again are tried while the media flows. They
/// must be refused (503), and the established calls must keep under 0.1 % loss. Run with a low
/// limit at 30 calls, and with the default limit at twice the capacity found.
func runOverload(maxLoad: Int, mode: CallMode = .transcoded, count: Int = callCount) async throws
    -> (figures: LoadFigures, refused: Int, admitted: Int, loads: String) {
    let gateway = try TandemGateway(binary: tandemd, maxLoad: maxLoad, extraMedia: extraMedia)
    do {
        try await gateway.waitUntilReady()
        let calls = try makeCalls(mode, count: count)
        for call in calls {
            let answer = try await gateway.place(call)
            try call.connect(answer: answer)
        }
        let running = calls  // handed to the media thread; this task only places new calls
        let pid = gateway.pid
        let media = Task.detached { try runLoad(calls: running, audio: audio, gatewayPID: pid, warmup: warmup, seconds: seconds) }
        // The loops' load is measured over about a second: give it time to show, then knock.
        try await Task.sleep(for: .seconds(warmup + 2))
        var refused = 0
        var admitted = 0
        for call in try makeCalls(mode, count: count, from: count) {
            do {
                _ = try await gateway.place(call)
                admitted += 1
            } catch where "\(error)".contains("503") {
                refused += 1
            }
        }
        let loads = gateway.workerLoads()
        let figures = try await media.value
        await gateway.hangUpAll()
        await gateway.shutdown()
        return (figures, refused, admitted, loads)
    } catch {
        await gateway.shutdown()
        throw error
    }
}

func describe(_ gateway: String, _ mode: CallMode, _ figures: LoadFigures) -> String {
    func ms(_ ns: Double) -> String { String(format: "%.2f", ns / 1e6) }
    let both = figures.toTrunk.latencies + figures.toWeb.latencies
    return "| \(gateway) | \(mode.rawValue) | \(figures.calls) | " + String(format: "%.3f", figures.cpuMillisecondsPerCallSecond)
        + " | " + String(format: "%.3f", figures.kernelMillisecondsPerCallSecond)
        + " | " + String(format: "%.3f", figures.toTrunk.lossPercent) + " | " + String(format: "%.3f", figures.toWeb.lossPercent)
        + " | \(ms(percentile(figures.toTrunk.latencies, 0.5))) / \(ms(percentile(figures.toTrunk.latencies, 0.99)))"
        + " | \(ms(percentile(figures.toWeb.latencies, 0.5))) / \(ms(percentile(figures.toWeb.latencies, 0.99)))"
        + " | \(ms(percentile(both, 0.5))) / \(ms(percentile(both, 0.99)))"
        + " | " + String(format: "%.3f", Double(figures.generatorCPUNanoseconds) / 1e6 / (Double(figures.calls) * figures.seconds))
        + " | \(figures.profiles.joined(separator: ", ")) |"
}

say("tandem-load: \(callCount) calls, \(Int(warmup)) s warm-up, \(Int(seconds)) s measured, 50 packets/s each way per call"
    + (rounds > 1 ? ", \(rounds) rounds" : ""))
// A run that is to compare with the floor fails here, not minutes later, if the floor is missing.
if gateways.contains("floor") && modes.contains(.relayed) {
    do { try FloorGateway.checkBinary(floorBinary) } catch {
        say("tandem-load: \(error)")
        exit(1)
    }
}
var results: [String: [LoadFigures]] = [:]
var lines: [String] = []
for mode in modes {
    for round in 1...rounds {
        for gateway in gateways where gateway != "floor" || mode == .relayed {  // the floor only relays
            say("==> \(gateway), \(mode.rawValue)" + (rounds > 1 ? ", round \(round)" : "") + " ...")
            do {
                let figures = try await run(gateway, mode)
                results["\(gateway).\(mode.rawValue)", default: []].append(figures)
                lines.append(describe(gateway, mode, figures))
                say(lines.last!)
                if mode == .relayed {
                    say("    payload toward the trunk byte for byte as the browser sent it: \(figures.toTrunk.payloadIdentical) packets, changed: \(figures.toTrunk.payloadChanged)")
                }
            } catch {
                say("    \(gateway) \(mode.rawValue) failed: \(error)")
            }
        }
    }
}

/// The middle value (the mean of the middle two for an even count).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

let overloadMaxLoad = Int(environment["TANDEM_LOAD_OVERLOAD_MAX_LOAD"] ?? "") ?? 5
var overloadLine: String?
if overloadMaxLoad > 0 && gateways.contains("tandem") {
    say("==> tandem, overload: \(callCount) transcoded calls with media.max_load \(overloadMaxLoad) %, then \(callCount) more tried ...")
    do {
        let (figures, refused, admitted, loads) = try await runOverload(maxLoad: overloadMaxLoad)
        let loss = max(figures.toTrunk.lossPercent, figures.toWeb.lossPercent)
        overloadLine = String(format: "overload: %d more calls tried at twice the load: %d refused with 503, %d admitted; established calls' loss %.3f %% (target under 0.1 %%); worker loads %@",
                              callCount, refused, admitted, loss, loads)
        say(overloadLine!)
    } catch {
        say("    overload run failed: \(error)")
    }
}

// Capacity: for each mode asked (TANDEM_LOAD_CAPACITY, e.g. "relayed,transcoded"; make bench
// asks for both), the most calls each gateway carries clean (Capacity.swift), stepping up from
// TANDEM_LOAD_CALLS to at most TANDEM_LOAD_CAPACITY_LIMIT (default 480: the generator's own share
// of the two cores is most of what is left by then), TANDEM_LOAD_CAPACITY_SECONDS (default 8)
// measured per step; then Tandem at twice its capacity with the shipped admission limit
// (media.max_load 85).
let criteria = CapacityCriteria()
var capacityLines: [String] = []
var capacityTable: [String] = []
for mode in capacityModes {
    for gateway in gateways where gateway != "floor" {
        say("==> capacity, \(gateway), \(mode.rawValue): stepping from \(callCount) calls up to \(capacityLimit) ...")
        let (found, _) = await findCapacity(start: callCount, limit: capacityLimit, criteria: criteria, report: { step in
            let line = describeCapacityStep(gateway, mode, step, criteria)
            capacityLines.append(line)
            say(line)
        }) { count in try await run(gateway, mode, count: count, seconds: capacitySeconds) }
        var row = "| \(mode.rawValue) | \(gateway) | \(found)\(found >= capacityLimit ? " (the limit tried)" : "") |"
        if gateway == "tandem" && found > 0 {
            say("==> capacity, tandem, \(mode.rawValue): \(found) calls with media.max_load 85, then \(found) more tried ...")
            do {
                let (figures, refused, admitted, loads) = try await runOverload(maxLoad: 85, mode: mode, count: found)
                let loss = max(figures.toTrunk.lossPercent, figures.toWeb.lossPercent)
                row += String(format: " %d refused with 503, %d admitted; established calls' loss %.3f %%, jitter %.2f ms; worker loads %@ |",
                              refused, admitted, loss, figures.jitterMilliseconds, loads)
            } catch {
                row += " overload run failed: \(error) |"
            }
        } else {
            row += " – |"
        }
        capacityTable.append(row)
        say(row)
    }
}

say("")
say("| gateway | mode | calls | CPU ms per call-second | of which in the kernel | loss % to trunk | loss % to browser | latency ms to trunk p50 / p99 | to browser p50 / p99 | both p50 / p99 | generator CPU ms per call-second | SRTP profile |")
say("|---|---|---|---|---|---|---|---|---|---|---|---|")
for line in lines { say(line) }
say("")
for mode in modes {
    guard let tandem = results["tandem.\(mode.rawValue)"], let rtpengine = results["rtpengine.\(mode.rawValue)"] else { continue }
    let tandemCPU = median(tandem.map(\.cpuMillisecondsPerCallSecond))
    let tandemKernel = median(tandem.map(\.kernelMillisecondsPerCallSecond))
    let rtpengineCPU = median(rtpengine.map(\.cpuMillisecondsPerCallSecond))
    let target = mode == .transcoded ? "at most 0.25" : "at most 0.50"
    let perRound = zip(tandem, rtpengine).map { String(format: "%.3f", $0.cpuMillisecondsPerCallSecond / $1.cpuMillisecondsPerCallSecond) }
    say(String(format: "%@: Tandem / rtpengine CPU per call-second = %.3f (target: %@); Tandem's kernel time alone = %.3f of rtpengine's whole",
               mode.rawValue, tandemCPU / rtpengineCPU, target, tandemKernel / rtpengineCPU)
        + (rounds > 1 ? String(format: "; medians of %d rounds (%.3f and %.3f ms), round by round %@", tandem.count, tandemCPU, rtpengineCPU,
                               perRound.joined(separator: ", ")) : ""))
    // Next to it, how far each is from the floor: the least the same relayed calls can cost.
    if let floor = results["floor.\(mode.rawValue)"] {
        let floorCPU = median(floor.map(\.cpuMillisecondsPerCallSecond))
        say(String(format: "%@: Tandem / floor CPU per call-second = %.3f (rtpengine / floor = %.3f; floor %.3f ms, of which kernel %.3f)",
                   mode.rawValue, tandemCPU / floorCPU, rtpengineCPU / floorCPU, floorCPU, median(floor.map(\.kernelMillisecondsPerCallSecond))))
    }
}
if let overloadLine { say(overloadLine) }
if !capacityModes.isEmpty {
    say("")
    say(String(format: "Capacity steps (clean: loss under %.1f %% each way, and p99 - p50 latency at most %.0f ms over the first step's; %.0f s measured per step):",
               criteria.maxLossPercent, criteria.maxJitterMilliseconds, capacitySeconds))
    say("| gateway | mode | calls | CPU ms per call-second | loss % to trunk / to browser | jitter ms, p99 - p50 (added) | generator CPU ms per call-second | clean |")
    say("|---|---|---|---|---|---|---|---|")
    for line in capacityLines { say(line) }
    say("")
    say("| mode | gateway | most calls carried clean | at twice that, with admission control (Tandem) |")
    say("|---|---|---|---|")
    for row in capacityTable { say(row) }
}
