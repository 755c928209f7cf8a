// tandem-load: N concurrent calls on loopback through a gateway, both ends played by this
// process: the browser end (ICE, DTLS, SRTP, Opus or PCMU) and the trunk end (RTP, PCMU), a
// speech-like signal at 50 packets/s each way. Reports the gateway's CPU per call-second (from
// /proc, over a steady window), packet loss each way and added latency, for transcoded and
// relayed calls, through tandemd and through Debian's rtpengine in the same run, and the ratios.
//
// Knobs (environment): TANDEM_LOAD_CALLS (default 30), TANDEM_LOAD_SECONDS (window, default 20),
// TANDEM_LOAD_WARMUP (default 3), TANDEM_LOAD_MODES (transcoded,relayed),
// TANDEM_LOAD_GATEWAYS (tandem,rtpengine), TANDEM_LOAD_WORKERS (tandemd worker loops, default
// one per core), TANDEM_LOAD_OVERLOAD_MAX_LOAD (media.max_load for the overload run, default 5;
// 0 skips it), TANDEM_LOAD_MEDIA (extra keys for tandemd's media section, `;`-separated, such
// as `relayed_read_interval: 10ms`), TANDEM_LOAD_ROUNDS (default 1: each mode runs through every
// gateway this many times, alternating, and the comparison uses each gateway's median; this
// machine's figures move by a fifth between runs, so alternating rounds keep drift from favouring
// one gateway).
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
let gateways = (environment["TANDEM_LOAD_GATEWAYS"] ?? "tandem,rtpengine").split(separator: ",").map(String.init)
let rounds = max(1, Int(environment["TANDEM_LOAD_ROUNDS"] ?? "") ?? 1)
let binDirectory = environment["TANDEM_BIN_DIR"]
    ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
let tandemd = binDirectory + "/tandemd"
let extraMedia = (environment["TANDEM_LOAD_MEDIA"] ?? "").split(separator: ";").map { "  " + $0.trimmingCharacters(in: .whitespaces) }
    .joined(separator: "\n")

let audio = try PreparedAudio()
let certificate = try DTLSCertificate.selfSigned(commonName: "tandem-load")
let capacity = Int((warmup + seconds) * 50) + 100

func makeCalls(_ mode: CallMode, count: Int, from first: Int = 0) throws -> [LoadCall] {
    let relayedPayloads = Set(audio.pcmu)
    return try (first..<(first + count)).map {
        let call = try LoadCall(index: $0, mode: mode, certificate: certificate, capacity: capacity)
        if mode == .relayed { call.expectedTrunkPayloads = relayedPayloads }
        return call
    }
}

func runTandem(_ mode: CallMode) async throws -> LoadFigures {
    let gateway = try TandemGateway(binary: tandemd, extraMedia: extraMedia)
    do {
        try await gateway.waitUntilReady()
        let calls = try makeCalls(mode, count: callCount)
        for call in calls {
            let answer = try await gateway.place(call)
            try call.connect(answer: answer)
        }
        let figures = try runLoad(calls: calls, audio: audio, gatewayPID: gateway.pid, warmup: warmup, seconds: seconds)
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

func runRTPEngine(_ mode: CallMode) throws -> LoadFigures {
    let gateway = try RTPEngineGateway()
    do {
        try gateway.waitUntilReady()
        let calls = try makeCalls(mode, count: callCount)
        for call in calls {
            let answer = try gateway.place(call)
            try call.connect(answer: answer)
        }
        let figures = try runLoad(calls: calls, audio: audio, gatewayPID: gateway.pid, warmup: warmup, seconds: seconds)
        gateway.hangUpAll()
        gateway.shutdown()
        return figures
    } catch {
        FileHandle.standardError.write(Data("rtpengine log:\n\(gateway.log.suffix(3000))\n".utf8))
        gateway.shutdown()
        throw error
    }
}

/// Admission control under overload: `callCount` transcoded calls carry media through a tandemd
/// whose `media.max_load` is low enough for them to put the loops over it; then as many calls
/// again are tried while the media flows. They must be refused (503), and the established calls
/// must keep under 0.1 % loss.
func runOverload(maxLoad: Int) async throws -> (figures: LoadFigures, refused: Int, admitted: Int, loads: String) {
    let gateway = try TandemGateway(binary: tandemd, maxLoad: maxLoad, extraMedia: extraMedia)
    do {
        try await gateway.waitUntilReady()
        let calls = try makeCalls(.transcoded, count: callCount)
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
        for call in try makeCalls(.transcoded, count: callCount, from: callCount) {
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
var results: [String: [LoadFigures]] = [:]
var lines: [String] = []
for mode in modes {
    for round in 1...rounds {
        for gateway in gateways {
            say("==> \(gateway), \(mode.rawValue)" + (rounds > 1 ? ", round \(round)" : "") + " ...")
            do {
                let figures = gateway == "tandem" ? try await runTandem(mode) : try runRTPEngine(mode)
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
    let target = mode == .transcoded ? "at most 0.33" : "at most 0.50"
    let perRound = zip(tandem, rtpengine).map { String(format: "%.3f", $0.cpuMillisecondsPerCallSecond / $1.cpuMillisecondsPerCallSecond) }
    say(String(format: "%@: Tandem / rtpengine CPU per call-second = %.3f (target: %@); Tandem's kernel time alone = %.3f of rtpengine's whole",
               mode.rawValue, tandemCPU / rtpengineCPU, target, tandemKernel / rtpengineCPU)
        + (rounds > 1 ? String(format: "; medians of %d rounds (%.3f and %.3f ms), round by round %@", tandem.count, tandemCPU, rtpengineCPU,
                               perRound.joined(separator: ", ")) : ""))
}
if let overloadLine { say(overloadLine) }
