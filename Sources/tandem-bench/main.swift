// tandem-bench: micro-benchmarks of the code that exists so far, run by `make bench` in a release
// build. Each benchmark runs for a fixed time after a warm-up and reports wall time per operation
// and CPU time per operation (getrusage), so runs on a busy machine can still be compared.
//
// ordo-one/benchmark 1.38 needs ordo-one/swift-runtime-interposer on Linux with Swift 6.3, which
// the package mirror does not hold; this harness stands in until it does.

import AudioCodecs
import Foundation
import MediaEngine
import TandemConfig

struct Result {
    var name: String
    var operations: Int
    var wallNanoseconds: Double
    var cpuNanoseconds: Double
    var unit: String
    var unitsPerOperation: Double
}

func cpuNanoseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user = Double(usage.ru_utime.tv_sec) * 1e9 + Double(usage.ru_utime.tv_usec) * 1e3
    let system = Double(usage.ru_stime.tv_sec) * 1e9 + Double(usage.ru_stime.tv_usec) * 1e3
    return user + system
}

/// Runs `body` (which performs `batch` operations) repeatedly for about `seconds`.
func measure(_ name: String, batch: Int, unit: String = "", unitsPerOperation: Double = 0, seconds: Double = 1.0, _ body: () -> Void) -> Result {
    for _ in 0..<10 { body() }  // warm-up
    let clock = ContinuousClock()
    var operations = 0
    let cpuStart = cpuNanoseconds()
    let start = clock.now
    let limit = Duration.milliseconds(Int64(seconds * 1000))
    while clock.now - start < limit {
        body()
        operations += batch
    }
    let wall = clock.now - start
    let cpu = cpuNanoseconds() - cpuStart
    let wallNs = Double(wall.components.seconds) * 1e9 + Double(wall.components.attoseconds) / 1e9
    return Result(name: name, operations: operations, wallNanoseconds: wallNs, cpuNanoseconds: cpu, unit: unit, unitsPerOperation: unitsPerOperation)
}

@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

var results: [Result] = []
let filter = CommandLine.arguments.dropFirst().first

// G.711: one 20 ms frame at 8 kHz is 160 samples.
let frame: [Int16] = (0..<160).map { Int16(8000 * sin(Double($0) * 2 * .pi * 440 / 8000)) }
var encoded = [UInt8](repeating: 0, count: 160)
var decoded = [Int16](repeating: 0, count: 160)

results.append(measure("g711.mulaw.encode.20ms", batch: 100, unit: "frames") {
    frame.withUnsafeBufferPointer { input in
        encoded.withUnsafeMutableBufferPointer { output in
            for _ in 0..<100 { MuLaw.encode(input, into: output) }
        }
    }
    blackHole(encoded)
})
results.append(measure("g711.mulaw.decode.20ms", batch: 100, unit: "frames") {
    encoded.withUnsafeBufferPointer { input in
        decoded.withUnsafeMutableBufferPointer { output in
            for _ in 0..<100 { MuLaw.decode(input, into: output) }
        }
    }
    blackHole(decoded)
})
results.append(measure("g711.alaw.encode.20ms", batch: 100, unit: "frames") {
    frame.withUnsafeBufferPointer { input in
        encoded.withUnsafeMutableBufferPointer { output in
            for _ in 0..<100 { ALaw.encode(input, into: output) }
        }
    }
    blackHole(encoded)
})

// Opus at 8 kHz (no resampler), 20 ms frames, as the transcoding path runs it.
let opusEncoder = try! OpusVoiceEncoder()
let opusDecoder = try! OpusVoiceDecoder()
var opusPacket = [UInt8](repeating: 0, count: 1500)
var opusLength = 0
var pcm = [Int16](repeating: 0, count: 160)
frame.withUnsafeBufferPointer { input in
    opusPacket.withUnsafeMutableBytes { opusLength = try! opusEncoder.encode(input, into: $0) }
}
results.append(measure("opus.encode.20ms.8k", batch: 10, unit: "frames") {
    frame.withUnsafeBufferPointer { input in
        opusPacket.withUnsafeMutableBytes { output in
            for _ in 0..<10 { opusLength = try! opusEncoder.encode(input, into: output) }
        }
    }
})
results.append(measure("opus.decode.20ms.8k", batch: 10, unit: "frames") {
    opusPacket[0..<opusLength].withUnsafeBytes { packet in
        pcm.withUnsafeMutableBufferPointer { output in
            for _ in 0..<10 { _ = try! opusDecoder.decode(packet, into: output) }
        }
    }
})
// Both directions of one transcoded call for 20 ms: Opus -> PCM -> µ-law, µ-law -> PCM -> Opus.
results.append(measure("transcode.call.20ms.both-ways", batch: 10, unit: "frames") {
    for _ in 0..<10 {
        opusPacket[0..<opusLength].withUnsafeBytes { packet in
            pcm.withUnsafeMutableBufferPointer { _ = try! opusDecoder.decode(packet, into: $0) }
        }
        pcm.withUnsafeBufferPointer { input in encoded.withUnsafeMutableBufferPointer { MuLaw.encode(input, into: $0) } }
        encoded.withUnsafeBufferPointer { input in decoded.withUnsafeMutableBufferPointer { MuLaw.decode(input, into: $0) } }
        decoded.withUnsafeBufferPointer { input in
            opusPacket.withUnsafeMutableBytes { opusLength = try! opusEncoder.encode(input, into: $0) }
        }
    }
})

var pool = PortPool(portMin: 20000, portMax: 29999)
results.append(measure("media.portpool.allocate+release", batch: 1000) {
    for _ in 0..<1000 {
        let port = pool.allocate()!
        pool.release(port)
    }
})

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let configPath = root.appendingPathComponent("config/tandem.yaml").path
results.append(measure("config.load.shipped", batch: 1, seconds: 0.5) {
    blackHole(try! ConfigurationLoader().load(path: configPath))
})

print("benchmark                              ops        wall ns/op     cpu ns/op")
for result in results where filter == nil || result.name.contains(filter!) {
    let wall = result.wallNanoseconds / Double(result.operations)
    let cpu = result.cpuNanoseconds / Double(result.operations)
    print(result.name.padding(toLength: 36, withPad: " ", startingAt: 0)
        + String(result.operations).leftPadded(10)
        + String(format: "%15.1f", wall) + String(format: "%14.1f", cpu))
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

// The transcode pipeline against bare libopus + libsrtp (Pipeline.swift).
if filter == nil || "transcode.pipeline".contains(filter!) {
    let figures = measureTranscodePipeline()
    print("")
    print("transcode pipeline, one 20 ms frame both ways (SRTP Opus <-> RTP PCMU), CPU per frame over \(figures.frames) frames:")
    print(String(format: "  bare libsrtp + libopus   %8.1f ns", figures.bareNanoseconds))
    print(String(format: "  Tandem pipeline          %8.1f ns", figures.pipelineNanoseconds))
    print(String(format: "  ratio                    %8.2f  (target: at most 2.00)", figures.pipelineNanoseconds / figures.bareNanoseconds))
}
