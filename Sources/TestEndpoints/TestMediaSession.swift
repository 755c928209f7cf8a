// The media of one answered test call, without sockets or clocks of its own: RTP datagrams from
// the caller go in, datagrams to send come out, and `tick(now:)` at `nextDeadline` paces the
// 20 ms PCMU frames the tone and dtmf endpoints play.
//
//   echo  every RTP packet goes back as it came (audio and telephone-event alike)
//   tone  1 kHz for 2 s, then a sweep from 300 Hz to 3 kHz over 3 s, over and over; the
//         pattern starts again at the caller's first packet, so the caller hears it from its start
//   dtmf  silence, and each RFC 4733 digit received (or given by `play(_:)`) played back in band
//         as a DTMF tone once its event ends

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AudioCodecs
import NIOCore
import RTP

/// What a test number does.
public enum TestEndpointKind: String, Sendable, CaseIterable, Equatable {
    case echo, tone, dtmf, busy, noanswer

    /// Whether calls to it are answered and carry media.
    public var answers: Bool {
        switch self {
        case .echo, .tone, .dtmf: return true
        case .busy, .noanswer: return false
        }
    }
}

/// One answered call's media. Confined to the event loop that drives it.
public final class TestMediaSession {
    /// 20 ms of audio at 8 kHz.
    public static let frameSamples = 160
    public static let frameInterval = TimeAmount.milliseconds(20)
    /// The tone pattern: seconds of 1 kHz, then seconds of sweep.
    static let steadySeconds = 2.0
    static let sweepSeconds = 3.0
    static let sweepFrom = 300.0
    static let sweepTo = 3000.0
    /// About -10 dBFS: loud and clear without clipping through a transcoder.
    static let amplitude = 0.3 * 32767
    static let payloadTypePCMU: UInt8 = 0

    public let kind: TestEndpointKind
    public let telephoneEventPayloadType: UInt8?
    private let ssrc = UInt32.random(in: 1...UInt32.max)
    private var sequence = UInt16.random(in: 0...UInt16.max)
    private var timestamp = UInt32.random(in: 0...UInt32.max)
    private var marker = true
    private var nextFrame: NIODeadline
    private var patternStart: NIODeadline
    private var phase = 0.0
    private var generator: DTMFGenerator?
    private var lastEventTimestamp: UInt32?
    private var pcm = [Int16](repeating: 0, count: TestMediaSession.frameSamples)

    /// Digits heard so far, in order.
    public private(set) var digits = ""
    public private(set) var packetsReceived = 0
    public private(set) var packetsSent = 0
    /// When the last RTP packet arrived (the answer time until one does).
    public private(set) var lastReceived: NIODeadline

    public init(kind: TestEndpointKind, telephoneEventPayloadType: UInt8?, now: NIODeadline) {
        self.kind = kind
        self.telephoneEventPayloadType = telephoneEventPayloadType
        nextFrame = now
        patternStart = now
        lastReceived = now
        if kind == .dtmf {
            let generator = DTMFGenerator()
            generator.setTiming(toneMilliseconds: 250, pauseMilliseconds: 100)
            self.generator = generator
        }
    }

    /// When `tick(now:)` must run next; nil for echo, which only answers what it gets.
    public var nextDeadline: NIODeadline? { kind == .echo ? nil : nextFrame }

    /// A datagram from the caller. Returns the datagrams to send back (echo only); a digit
    /// completed here is in `digits` and returned as `heard`.
    public func receive(_ datagram: [UInt8], now: NIODeadline) -> (send: [[UInt8]], heard: Character?) {
        guard PacketKind.classify(datagram) == .rtp, let header = try? RTPHeader(parsing: datagram) else { return ([], nil) }
        if packetsReceived == 0 && kind == .tone { patternStart = now }
        packetsReceived += 1
        lastReceived = now
        switch kind {
        case .echo:
            packetsSent += 1
            return ([datagram], nil)
        case .dtmf:
            guard let telephoneEventPayloadType, header.payloadType == telephoneEventPayloadType else { return ([], nil) }
            let event = datagram.withUnsafeBytes { raw -> TelephoneEvent? in
                try? TelephoneEvent(parsing: UnsafeRawBufferPointer(rebasing: raw[header.payloadRange]))
            }
            // An event ends with up to three packets flagged E; the first of them counts.
            guard let event, event.end, lastEventTimestamp != header.timestamp, let digit = event.digit else { return ([], nil) }
            lastEventTimestamp = header.timestamp
            play(digit)
            return ([], digit)
        default:
            return ([], nil)
        }
    }

    /// Queues a digit to be played back (dtmf only); also how SIP INFO digits arrive.
    public func play(_ digit: Character) {
        guard let generator, TelephoneEvent.event(for: digit) != nil else { return }
        digits.append(digit)
        generator.queue(String(digit))
    }

    /// The frames due by `now`. After a stall of more than 200 ms the lost time is skipped
    /// rather than sent in a burst.
    public func tick(now: NIODeadline) -> [[UInt8]] {
        guard kind != .echo else { return [] }
        var frames: [[UInt8]] = []
        while nextFrame <= now && frames.count < 10 {
            frames.append(frame(at: nextFrame))
            nextFrame = nextFrame + TestMediaSession.frameInterval
        }
        if nextFrame <= now { nextFrame = now + TestMediaSession.frameInterval }
        return frames
    }

    /// The tone's frequency `seconds` into the pattern.
    static func toneFrequency(at seconds: Double) -> Double {
        let cycle = steadySeconds + sweepSeconds
        let t = max(0, seconds).truncatingRemainder(dividingBy: cycle)
        if t < steadySeconds { return 1000 }
        return sweepFrom + (sweepTo - sweepFrom) * (t - steadySeconds) / sweepSeconds
    }

    private func frame(at time: NIODeadline) -> [UInt8] {
        let count = TestMediaSession.frameSamples
        switch kind {
        case .tone:
            let start = Double((time - patternStart).nanoseconds) / 1e9
            for index in 0..<count {
                let frequency = TestMediaSession.toneFrequency(at: start + Double(index) / 8000)
                phase += 2 * Double.pi * frequency / 8000
                if phase > 2 * Double.pi { phase -= 2 * Double.pi }
                pcm[index] = Int16(TestMediaSession.amplitude * sin(phase))
            }
        default:
            let written = pcm.withUnsafeMutableBufferPointer { generator?.generate(into: $0) ?? 0 }
            for index in written..<count { pcm[index] = 0 }
        }
        var packet = [UInt8](repeating: 0, count: 12 + count)
        packet.withUnsafeMutableBytes { raw in
            RTPHeader.write(marker: marker, payloadType: TestMediaSession.payloadTypePCMU, sequenceNumber: sequence,
                            timestamp: timestamp, ssrc: ssrc, into: raw)
            let payload = UnsafeMutableRawBufferPointer(rebasing: raw[12...]).bindMemory(to: UInt8.self)
            pcm.withUnsafeBufferPointer { MuLaw.encode($0, into: payload) }
        }
        marker = false
        sequence &+= 1
        timestamp &+= UInt32(count)
        packetsSent += 1
        return packet
    }
}
