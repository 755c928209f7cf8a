// Tandem's micro-benchmarks on ordo-one/benchmark: `swift package benchmark` (release build) runs
// them, `make bench` among its steps. Besides time, every benchmark counts mallocs per operation
// (the MallocInterposer trait: an LD_PRELOADed malloc that counts C and Swift allocations alike).
//
// The packet path (RTP header parse, SRTP protect/unprotect in place, the bridge's in-place relay,
// and both directions of a relayed call put together) is expected to make 0 allocations per
// packet: packets stay in buffers the media loop reuses from receive to send. Those benchmarks
// carry a strict malloc tolerance, and Benchmarks/Thresholds holds their static figures, checked by
//   swift package benchmark thresholds check --path Benchmarks/Thresholds --target TandemBenchmarks
// The figures are 0, except for AES_CM_128_HMAC_SHA1_80: libsrtp2 as Debian builds it does AES
// and HMAC-SHA1 through NSS, which allocates 14 times per packet (a new PK11 cipher context for
// each packet, and the HMAC digest begun again); its files hold that figure (14000 per 1000-packet sample) so that it does not grow, until
// that profile moves off libsrtp's NSS backend as AEAD-GCM did (SRTPAEADCipher, on OpenSSL).
//
// The transcode pipeline against bare libopus + libsrtp stays in tandem-bench (Pipeline.swift): it
// interleaves two implementations round by round and reports their ratio, which is not a shape
// this library measures.

import AudioCodecs
import Benchmark
import DTLS
import Foundation
import MediaEngine
import RTP
import SRTP
import TandemConfig

let benchmarks: @Sendable () -> Void = {
    // Short operations run 1000 times per sample (`.kilo`) so the clock reads around a sample do
    // not swamp them; figures are shown per operation (the `*` columns).
    let micro = Benchmark.Configuration(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .kilo)
    let frame = Benchmark.Configuration(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one)
    // Any allocation on the packet path is a regression: no tolerance over the static 0.
    let packetPath = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, .mallocBytesCount], warmupIterations: 10, scalingFactor: .kilo,
        thresholds: [.mallocCountTotal: BenchmarkThresholds(absolute: BenchmarkThresholds.Absolute.strict)])

    codecBenchmarks(micro: micro, frame: frame)
    mediaBenchmarks(micro: micro, frame: frame)
    packetPathBenchmarks(packetPath)
}


/// Registers a benchmark whose fixture (sessions, codecs, buffers) the library's setup hook makes
/// once, before the first sample: the measured samples then see only the operation.
func register<Fixture>(_ name: String, _ configuration: Benchmark.Configuration, fixture make: @escaping () throws -> Fixture,
                       _ body: @escaping (Benchmark, Fixture) throws -> Void) {
    var fixture: Fixture?
    Benchmark(name, configuration: configuration, closure: { benchmark in
        guard let fixture else { return benchmark.error("\(name): no fixture") }
        try body(benchmark, fixture)
    }, setup: {
        fixture = try make()
    }, teardown: {
        fixture = nil
    })
}

// MARK: - Codecs

/// G.711 and Opus on one 20 ms frame at 8 kHz (160 samples), as the transcoding path runs them.
func codecBenchmarks(micro: Benchmark.Configuration, frame: Benchmark.Configuration) {
    register("g711.mulaw.encode.20ms", micro, fixture: CodecFixture.init) { benchmark, codec in
        for _ in benchmark.scaledIterations { MuLaw.encode(codec.samples.readable, into: codec.law.pointer) }
        blackHole(codec.law.pointer[0])
    }
    register("g711.mulaw.decode.20ms", micro, fixture: CodecFixture.init) { benchmark, codec in
        for _ in benchmark.scaledIterations { MuLaw.decode(codec.law.readable, into: codec.pcm.pointer) }
        blackHole(codec.pcm.pointer[0])
    }
    register("g711.alaw.encode.20ms", micro, fixture: CodecFixture.init) { benchmark, codec in
        for _ in benchmark.scaledIterations { ALaw.encode(codec.samples.readable, into: codec.law.pointer) }
        blackHole(codec.law.pointer[0])
    }

    // Opus at 8 kHz (no resampler) with the bridge's default settings.
    register("opus.encode.20ms.8k", frame, fixture: CodecFixture.init) { benchmark, codec in
        for _ in benchmark.scaledIterations { try codec.opusEncode(codec.samples) }
        blackHole(codec.opusLength)
    }
    register("opus.decode.20ms.8k", frame, fixture: CodecFixture.init) { benchmark, codec in
        for _ in benchmark.scaledIterations { try codec.opusDecode() }
        blackHole(codec.pcm.pointer[0])
    }
    // Both directions of one transcoded call for 20 ms: Opus -> PCM -> µ-law, µ-law -> PCM -> Opus.
    register("transcode.call.20ms.both-ways", frame, fixture: CodecFixture.init) { benchmark, codec in
        for _ in benchmark.scaledIterations {
            try codec.opusDecode()
            MuLaw.encode(codec.decodedFrame, into: codec.law.pointer)
            MuLaw.decode(codec.law.readable, into: codec.pcm.pointer)
            try codec.opusEncode(codec.pcm)
        }
        blackHole(codec.opusLength)
    }
}

/// A 440 Hz frame, its µ-law and Opus encodings, and an Opus encoder and decoder.
final class CodecFixture {
    let samples = Buffer<Int16>(count: 160)
    let law = Buffer<UInt8>(count: 160)
    let pcm = Buffer<Int16>(count: 960)  // Opus's longest frame (120 ms) at 8 kHz
    let opus = Buffer<UInt8>(count: 1500)
    var opusLength = 0
    let encoder: OpusVoiceEncoder
    let decoder: OpusVoiceDecoder

    init() throws {
        encoder = try OpusVoiceEncoder()
        decoder = try OpusVoiceDecoder()
        for index in 0..<160 { samples.pointer[index] = Int16(8000 * sin(Double(index) * 2 * .pi * 440 / 8000)) }
        MuLaw.encode(samples.readable, into: law.pointer)
        try opusEncode(samples)
    }

    /// Encodes the first 160 samples of `source` (20 ms).
    func opusEncode(_ source: Buffer<Int16>) throws {
        opusLength = try encoder.encode(UnsafeBufferPointer(rebasing: source.pointer[..<160]), into: opus.raw)
    }

    /// The 20 ms the last decode gave.
    var decodedFrame: UnsafeBufferPointer<Int16> { UnsafeBufferPointer(rebasing: pcm.pointer[..<160]) }

    func opusDecode() throws {
        _ = try decoder.decode(UnsafeRawBufferPointer(rebasing: opus.raw[..<opusLength]), into: pcm.pointer)
    }
}

// MARK: - Media engine and configuration

func mediaBenchmarks(micro: Benchmark.Configuration, frame: Benchmark.Configuration) {
    final class Pool { var pool = PortPool(portMin: 20000, portMax: 29999) }
    register("media.portpool.allocate+release", micro, fixture: Pool.init) { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            let port = fixture.pool.allocate()!
            fixture.pool.release(port)
        }
    }

    // The shipped configuration (config/tandem.yaml and its profiles), read and fully validated.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let configPath = root.appendingPathComponent("config/tandem.yaml").path
    register("config.load.shipped", frame, fixture: ConfigurationLoader.init) { benchmark, loader in
        for _ in benchmark.scaledIterations { blackHole(try loader.load(path: configPath)) }
    }
}

// MARK: - Packet path

/// The RTP packet every packet-path benchmark moves: PCMU, 20 ms, a 12-byte header and 160 bytes
/// of payload, in a buffer with room for the SRTP trailer, as the media loop's receive buffers have.
let packetLength = 172
let slotSize = 512
let webSSRC: UInt32 = 0x1111_1111
let trunkSSRC: UInt32 = 0x2222_2222

func packetPathBenchmarks(_ configuration: Benchmark.Configuration) {
    register("rtp.header.parse", configuration, fixture: { Slots(count: 1) }) { benchmark, packet in
        let buffer = packet[0]
        var sink = 0
        for index in benchmark.scaledIterations {
            // A new sequence number each time, as a new packet would bring: the parse cannot be
            // hoisted out of the loop.
            buffer.storeBytes(of: UInt8(truncatingIfNeeded: index), toByteOffset: 3, as: UInt8.self)
            let header = try RTPHeader(parsing: UnsafeRawBufferPointer(rebasing: buffer[..<packetLength]))
            sink &+= Int(header.sequenceNumber) &+ header.payloadRange.count
        }
        blackHole(sink)
    }

    // MediaBridge.relayFromWeb on a PCMU <-> PCMU call: the header rewritten onto Tandem's stream
    // where the packet lies.
    register("bridge.relay.in-place", configuration, fixture: RelayFixture.init) { benchmark, relay in
        let buffer = relay.packet[0]
        var sink = 0
        for _ in benchmark.scaledIterations {
            relay.header.sequenceNumber &+= 1
            relay.header.timestamp &+= 160
            guard case .packet(let length, _) = relay.bridge.relayFromWeb(inPlace: buffer, length: packetLength, header: relay.header)
            else { return benchmark.error("the bridge did not relay in place") }
            sink &+= length
        }
        blackHole(sink)
    }

    for profile in [SRTPProtectionProfile.aeadAES128GCM, .aes128CMSHA1_80] {
        let name = profile == .aeadAES128GCM ? "aead-aes-128-gcm" : "aes-cm-128-hmac-sha1-80"

        register("srtp.protect.in-place.\(name)", configuration, fixture: { try SRTPFixture(profile) }) { benchmark, srtp in
            let buffer = srtp.packet[0]
            var sink = 0
            for _ in benchmark.scaledIterations {
                // The header must move on: a sender refuses to protect an index twice. The payload
                // is encrypted again each time, which costs what plain text would.
                srtp.stream.write(into: buffer, ssrc: webSSRC)
                sink &+= try srtp.sender.protect(rtp: buffer, length: packetLength)
            }
            blackHole(sink)
        }

        register("srtp.unprotect.in-place.\(name)", configuration, fixture: { try SRTPFixture(profile) }) { benchmark, srtp in
            try srtp.refill(benchmark.scaledIterations.count)
            benchmark.startMeasurement()
            var sink = 0
            for index in benchmark.scaledIterations {
                sink &+= try srtp.receiver.unprotect(rtp: srtp.batch[index], length: srtp.lengths[index])
            }
            benchmark.stopMeasurement()
            blackHole(sink)
        }

        // Browser -> trunk on a relayed call, after the socket read: unprotect, parse, relay.
        register("packet.web-to-trunk.\(name)", configuration, fixture: { try SRTPFixture(profile) }) { benchmark, srtp in
            try srtp.refill(benchmark.scaledIterations.count)
            benchmark.startMeasurement()
            var sink = 0
            for index in benchmark.scaledIterations {
                let buffer = srtp.batch[index]
                let plain = try srtp.receiver.unprotect(rtp: buffer, length: srtp.lengths[index])
                let header = try RTPHeader(parsing: UnsafeRawBufferPointer(rebasing: buffer[..<plain]))
                guard case .packet(let length, _) = srtp.bridge.relayFromWeb(inPlace: buffer, length: plain, header: header)
                else { return benchmark.error("the bridge did not relay in place") }
                sink &+= length
            }
            benchmark.stopMeasurement()
            blackHole(sink)
        }

        // Trunk -> browser on a relayed call, after the socket read: parse, relay, protect.
        register("packet.trunk-to-web.\(name)", configuration, fixture: { try SRTPFixture(profile) }) { benchmark, srtp in
            let buffer = srtp.packet[0]
            var sink = 0
            for _ in benchmark.scaledIterations {
                srtp.stream.write(into: buffer, ssrc: trunkSSRC)  // the trunk's next packet arrives
                let header = try RTPHeader(parsing: UnsafeRawBufferPointer(rebasing: buffer[..<packetLength]))
                guard case .packet(let length, _) = srtp.bridge.relayFromTrunk(inPlace: buffer, length: packetLength, header: header)
                else { return benchmark.error("the bridge did not relay in place") }
                sink &+= try srtp.sender.protect(rtp: buffer, length: length)
            }
            blackHole(sink)
        }
    }
}

/// A relayed call: PCMU on both legs, so the bridge only rewrites headers.
func relayBridge() throws -> MediaBridge {
    try MediaBridge(web: BridgeStream(codec: .pcmu, payloadType: 0, ssrc: 0x3333_3333),
                    trunk: BridgeStream(codec: .pcmu, payloadType: 0, ssrc: 0x4444_4444))
}

final class RelayFixture {
    let bridge: MediaBridge
    let packet = Slots(count: 1)
    var header: RTPHeader

    init() throws {
        bridge = try relayBridge()
        header = try RTPHeader(parsing: UnsafeRawBufferPointer(rebasing: packet[0][..<packetLength]))
    }
}

/// One SRTP direction both ways (our sender, the peer's receiver, keyed alike), a relaying bridge,
/// a packet buffer, and a batch of protected packets for the receiving benchmarks.
final class SRTPFixture {
    let sender: SRTPSession
    let receiver: SRTPSession
    let bridge: MediaBridge
    let packet = Slots(count: 1)
    var stream = StreamPosition()
    let batch = Slots(count: 1000)
    var lengths = [Int](repeating: 0, count: 1000)
    private var batchStream = StreamPosition()

    init(_ profile: SRTPProtectionProfile) throws {
        let key = (0..<profile.masterKeyLength).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let salt = (0..<profile.masterSaltLength).map { UInt8(truncatingIfNeeded: $0 &* 53 &+ 5) }
        let keying = SRTPKeyingMaterial(clientWriteKey: key, serverWriteKey: key.reversed(),
                                        clientWriteSalt: salt, serverWriteSalt: salt.reversed())
        sender = try SRTPSession(profile: profile, keyingMaterial: keying, role: .client, direction: .outbound)
        receiver = try SRTPSession(profile: profile, keyingMaterial: keying, role: .server, direction: .inbound)
        bridge = try relayBridge()
    }

    /// Protects the next `count` packets of the stream into the batch, outside the measured region:
    /// an inbound session refuses a packet it has seen, so every unprotect needs a new one. The
    /// stream goes on across refills (one per sample), as a call's would.
    func refill(_ count: Int) throws {
        precondition(count <= batch.count, "batch too small for the scaling factor")
        for index in 0..<count {
            batchStream.write(into: batch[index], ssrc: webSSRC)
            lengths[index] = try sender.protect(rtp: batch[index], length: packetLength)
        }
    }
}

/// The sequence number and timestamp of a 20 ms PCMU stream.
struct StreamPosition {
    var sequence: UInt16 = 0
    var timestamp: UInt32 = 0

    /// Writes the next packet's 12-byte header at the start of `buffer` and moves on.
    mutating func write(into buffer: UnsafeMutableRawBufferPointer, ssrc: UInt32) {
        RTPHeader.write(marker: false, payloadType: 0, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc, into: buffer)
        sequence &+= 1
        timestamp &+= 160
    }
}

/// Packet buffers side by side in one allocation, each holding a PCMU packet to begin with.
final class Slots {
    let storage: UnsafeMutableRawBufferPointer
    let count: Int

    init(count: Int) {
        self.count = count
        storage = .allocate(byteCount: count * slotSize, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        var stream = StreamPosition()
        for index in 0..<count {
            let slot = self[index]
            stream.write(into: slot, ssrc: webSSRC)
            for offset in 12..<packetLength { slot[offset] = UInt8(truncatingIfNeeded: offset &* 7) }  // µ-law "audio"
        }
    }

    deinit { storage.deallocate() }

    subscript(index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[(index * slotSize)..<((index + 1) * slotSize)])
    }
}

/// A typed buffer allocated once, zeroed.
final class Buffer<Element: FixedWidthInteger> {
    let pointer: UnsafeMutableBufferPointer<Element>

    init(count: Int) {
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: 0)
    }

    deinit { pointer.deallocate() }

    var readable: UnsafeBufferPointer<Element> { UnsafeBufferPointer(pointer) }
    var raw: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(pointer) }
}
