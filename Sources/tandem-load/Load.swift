// The media load: one sender thread paces every call at 50 packets/s each way (calls spread over
// the 20 ms so they do not all send at once), one receiver thread drains all sockets with epoll.
// Afterwards the logs are matched packet by packet: for 20 ms frames both ways, the k-th packet
// out of one end is the k-th packet into the other (once the offset left by the call's start is
// known), which gives loss and added latency over the measurement window.

import AudioCodecs
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Four seconds of a speech-like signal, encoded once: Opus for the browser, PCMU for the trunk.
struct PreparedAudio: @unchecked Sendable {
    var opus: [[UInt8]] = []
    var pcmu: [[UInt8]] = []

    init(frames: Int = 200) throws {
        let encoder = try OpusVoiceEncoder(OpusEncoderSettings(sampleRate: 8000, bitrate: 32000, complexity: 5))
        var packet = [UInt8](repeating: 0, count: 1500)
        var pcmuFrame = [UInt8](repeating: 0, count: 160)
        for index in 0..<frames {
            let frame = speechLike(from: index * 160, count: 160)
            let length = try frame.withUnsafeBufferPointer { pcm in try packet.withUnsafeMutableBytes { try encoder.encode(pcm, into: $0) } }
            opus.append(Array(packet[0..<length]))
            frame.withUnsafeBufferPointer { pcm in pcmuFrame.withUnsafeMutableBufferPointer { MuLaw.encode(pcm, into: $0) } }
            pcmu.append(pcmuFrame)
        }
    }
}

/// A voiced fundamental near 140 Hz with falling harmonics, in syllables (about 4 per second)
/// and phrases with pauses; 8 kHz.
func speechLike(from start: Int, count: Int) -> [Int16] {
    (start..<(start + count)).map { n in
        let t = Double(n) / 8000
        let phase = 2 * .pi * (140 * t - 25 / (2 * .pi * 0.7) * cos(2 * .pi * 0.7 * t))
        var value = 0.0
        for harmonic in 1...12 { value += sin(Double(harmonic) * phase) / Double(harmonic) }
        let syllable = max(0, sin(2 * .pi * 4 * t))
        let phrase = sin(2 * .pi * 0.25 * t) > -0.5 ? 1.0 : 0.05
        return Int16(clamping: Int(5000 * value * syllable * phrase))
    }
}

struct DirectionFigures {
    var expected = 0
    var received = 0
    /// Relayed calls toward the trunk: payloads byte for byte as sent, and changed ones.
    var payloadIdentical = 0
    var payloadChanged = 0
    var latencies: [Int64] = []  // nanoseconds
    var lossPercent: Double { expected == 0 ? 0 : 100 * Double(expected - received) / Double(expected) }
}

struct LoadFigures {
    var calls: Int
    var seconds: Double
    var gatewayCPUNanoseconds: Int64
    /// The part of it spent in the kernel.
    var gatewayKernelNanoseconds: Int64
    var generatorCPUNanoseconds: Int64
    var toTrunk: DirectionFigures
    var toWeb: DirectionFigures
    var profiles: [String]
    var cpuMillisecondsPerCallSecond: Double { Double(gatewayCPUNanoseconds) / 1e6 / (Double(calls) * seconds) }
    var kernelMillisecondsPerCallSecond: Double { Double(gatewayKernelNanoseconds) / 1e6 / (Double(calls) * seconds) }
}

final class StopFlag: @unchecked Sendable {
    private let value = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    init() { value.initialize(to: 0) }
    var isSet: Bool { value.pointee != 0 }
    func set() { value.pointee = 1 }
}

/// Runs media on `calls` for `warmup` + `seconds` (+ a tail), measuring `gatewayPID`'s CPU over
/// the window.
func runLoad(calls: [LoadCall], audio: PreparedAudio, gatewayPID: Int32, warmup: Double, seconds: Double) throws -> LoadFigures {
    let frameNanoseconds: Int64 = 20_000_000
    let windowStart = Int(warmup * 50)
    let windowEnd = windowStart + Int(seconds * 50)
    let totalFrames = windowEnd + 25  // half a second more so the window's last packets arrive
    let stop = StopFlag()
    let start = monotonicNanoseconds() + 100_000_000

    // Receiver: poll over every socket (sockets 2i and 2i+1 are call i's browser and trunk ends).
    var descriptors: [pollfd] = []
    for call in calls {
        for socket in [call.browser, call.trunk] {
            socket.setNonBlocking()
            descriptors.append(pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0))
        }
    }
    let pollSet = descriptors
    let receiver = Thread {
        var set = pollSet
        while !stop.isSet {
            guard poll(&set, nfds_t(set.count), 50) > 0 else { continue }
            for index in set.indices where set[index].revents != 0 {
                set[index].revents = 0
                if index % 2 == 0 { calls[index / 2].drainBrowser() } else { calls[index / 2].drainTrunk() }
            }
        }
    }
    receiver.name = "receiver"
    receiver.start()

    // Sender: a 1 ms tick; call i sends at tick i mod 20 of every frame.
    let senderDone = StopFlag()
    let sender = Thread {
        var bySlot = [[LoadCall]](repeating: [], count: 20)
        for (index, call) in calls.enumerated() { bySlot[index % 20].append(call) }
        for tick in 0..<(totalFrames * 20) {
            sleep(until: start + Int64(tick) * frameNanoseconds / 20)
            for call in bySlot[tick % 20] { call.sendFrame(tick / 20, opus: audio.opus, pcmu: audio.pcmu) }
        }
        senderDone.set()
    }
    sender.name = "sender"
    sender.start()

    sleep(until: start + Int64(windowStart) * frameNanoseconds)
    let gatewayBefore = processCPUNanoseconds(pid: gatewayPID) ?? (0, 0)
    let ownBefore = ownCPUNanoseconds()
    sleep(until: start + Int64(windowEnd) * frameNanoseconds)
    let gatewayAfter = processCPUNanoseconds(pid: gatewayPID) ?? (0, 0)
    let ownAfter = ownCPUNanoseconds()
    while !senderDone.isSet { usleep(10_000) }
    usleep(200_000)
    stop.set()
    usleep(100_000)

    var toTrunk = DirectionFigures()
    var toWeb = DirectionFigures()
    for call in calls {
        analyse(call.toTrunk, window: windowStart..<windowEnd, into: &toTrunk)
        toTrunk.payloadIdentical += call.toTrunk.payloadIdentical
        toTrunk.payloadChanged += call.toTrunk.payloadChanged
        analyse(call.toWeb, window: windowStart..<windowEnd, into: &toWeb)
    }
    let profiles = Set(calls.compactMap { $0.profile?.rawValue }).sorted()
    return LoadFigures(calls: calls.count, seconds: seconds, gatewayCPUNanoseconds: gatewayAfter.total - gatewayBefore.total,
                       gatewayKernelNanoseconds: gatewayAfter.kernel - gatewayBefore.kernel,
                       generatorCPUNanoseconds: ownAfter - ownBefore, toTrunk: toTrunk, toWeb: toWeb, profiles: profiles)
}

/// Matches arrivals to departures. The first arrivals fix the offset between the sender's
/// index and the receiver's ordinal: each arrival can only be the last packet sent before it
/// or an earlier one, so the smallest such difference over the first arrivals is the offset.
private func analyse(_ log: StreamLog, window: Range<Int>, into figures: inout DirectionFigures) {
    figures.expected += window.count
    guard log.received > 0, log.sent > 0 else { return }
    func lastSent(before time: Int64) -> Int {
        var low = 0, high = log.sent - 1
        if log.sendTimes[0] > time { return -1 }
        while low < high {
            let middle = (low + high + 1) / 2
            if log.sendTimes[middle] <= time { low = middle } else { high = middle - 1 }
        }
        return low
    }
    var offset = Int64.max
    for index in 0..<min(50, log.received) {
        offset = min(offset, Int64(lastSent(before: log.receivedTimes[index])) - log.receivedOrdinals[index])
    }
    var seen = [Bool](repeating: false, count: window.count)
    for index in 0..<log.received {
        let sentIndex = Int(log.receivedOrdinals[index] + offset)
        guard window.contains(sentIndex), sentIndex < log.sent, !seen[sentIndex - window.lowerBound] else { continue }
        seen[sentIndex - window.lowerBound] = true
        figures.received += 1
        figures.latencies.append(log.receivedTimes[index] - log.sendTimes[sentIndex])
    }
}

func percentile(_ values: [Int64], _ fraction: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))])
}
