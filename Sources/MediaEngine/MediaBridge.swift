// The bridge between a call's two legs, sans-IO: what the browser sends becomes what the trunk
// receives and back. When both legs agreed on the same codec the payload is relayed untouched and
// only the RTP header is rewritten (our SSRC, a continuous sequence and timestamp, the leg's
// payload type). Otherwise each direction decodes to 8 kHz linear PCM and encodes again (Opus
// created at 8 kHz, so no resampler), re-packetized to the receiving leg's ptime, with loss
// concealment (Opus PLC and in-band FEC, spandsp PLC for G.711). RFC 4733 telephone-events are
// carried across with payload type, clock and durations translated; in-band DTMF from a trunk
// without telephone-event is detected and sent to the browser as events.

import AudioCodecs
import NIOCore
import RTP

/// A codec the bridge can decode and encode.
public enum BridgeCodec: String, Sendable, Equatable {
    case opus, pcmu, pcma

    /// The RTP clock (RFC 7587: Opus is always 48 kHz on the wire).
    public var clockRate: Int { self == .opus ? 48000 : 8000 }
}

/// What one leg sends and receives.
public struct BridgeStream: Sendable, Equatable {
    public var codec: BridgeCodec
    public var payloadType: UInt8
    /// telephone-event's payload type and clock on this leg, when negotiated.
    public var telephoneEvent: (payloadType: UInt8, clockRate: Int)?
    /// Milliseconds of audio per packet Tandem sends on this leg.
    public var ptime: Int
    /// The SSRC Tandem sends with on this leg.
    public var ssrc: UInt32

    public init(codec: BridgeCodec, payloadType: UInt8, telephoneEvent: (payloadType: UInt8, clockRate: Int)? = nil, ptime: Int = 20,
                ssrc: UInt32 = UInt32.random(in: 1...UInt32.max)) {
        self.codec = codec
        self.payloadType = payloadType
        self.telephoneEvent = telephoneEvent
        self.ptime = ptime
        self.ssrc = ssrc
    }

    public static func == (a: BridgeStream, b: BridgeStream) -> Bool {
        a.codec == b.codec && a.payloadType == b.payloadType && a.telephoneEvent?.payloadType == b.telephoneEvent?.payloadType
            && a.telephoneEvent?.clockRate == b.telephoneEvent?.clockRate && a.ptime == b.ptime && a.ssrc == b.ssrc
    }
}

/// Counters for call detail status and metrics.
public struct MediaBridgeCounters: Sendable, Equatable {
    /// Packets passed with their payload untouched.
    public var relayed = 0
    /// Frames decoded and encoded again.
    public var transcodedFrames = 0
    /// Lost frames filled by PLC, and those recovered from Opus in-band FEC.
    public var concealedFrames = 0
    public var fecRecoveredFrames = 0
    /// telephone-event packets carried across, and digits detected in band.
    public var dtmfPackets = 0
    public var inbandDigits = 0
    /// Packets with a payload type the leg did not negotiate, or that failed to decode.
    public var dropped = 0
    public init() {}
}

public final class MediaBridge {
    public enum Mode: String, Sendable { case relay, transcode }

    public let mode: Mode
    public private(set) var counters = MediaBridgeCounters()
    private let toTrunk: Direction
    private let toWeb: Direction

    /// - Parameters:
    ///   - web, trunk: what each leg negotiated, with Tandem's SSRC on it.
    ///   - opus: the encoder settings toward the browser (sample rate is forced to 8 kHz).
    ///   - detectInbandDTMF: look for DTMF tones in the trunk's audio (a trunk without
    ///     telephone-event) and send them to the browser as RFC 4733 events.
    public init(web: BridgeStream, trunk: BridgeStream, opus: OpusEncoderSettings = OpusEncoderSettings(),
                detectInbandDTMF: Bool = false) throws {
        mode = web.codec == trunk.codec ? .relay : .transcode
        var settings = opus
        settings.sampleRate = 8000
        toTrunk = try Direction(from: web, to: trunk, relay: mode == .relay, opus: settings, detectDTMF: false)
        toWeb = try Direction(from: trunk, to: web, relay: mode == .relay, opus: settings,
                              detectDTMF: detectInbandDTMF && trunk.telephoneEvent == nil && web.telephoneEvent != nil)
    }

    /// An RTP packet from the browser (decrypted); returns the packets for the trunk.
    public func fromWeb(_ packet: [UInt8]) -> [[UInt8]] { toTrunk.process(packet, counters: &counters) }

    /// An RTP packet from the trunk; returns the packets for the browser.
    public func fromTrunk(_ packet: [UInt8]) -> [[UInt8]] { toWeb.process(packet, counters: &counters) }

    /// What relaying a packet where it lies gave (see `relayFromWeb(inPlace:length:header:)`).
    public enum InPlaceRelay {
        /// Not for the fast path (transcoding, a telephone event): `fromWeb`/`fromTrunk` take it.
        case general
        case dropped
        /// The packet for the other leg: `length` bytes at the start of the buffer.
        case packet(length: Int, header: RTPHeader)
    }

    /// Relays a decrypted RTP packet from the browser where it lies: its header is rewritten onto
    /// Tandem's stream toward the trunk, the payload moved up behind it if need be.
    public func relayFromWeb(inPlace buffer: UnsafeMutableRawBufferPointer, length: Int, header: RTPHeader) -> InPlaceRelay {
        toTrunk.relay(inPlace: buffer, length: length, header: header, counters: &counters)
    }

    /// The same for a packet from the trunk, toward the browser.
    public func relayFromTrunk(inPlace buffer: UnsafeMutableRawBufferPointer, length: Int, header: RTPHeader) -> InPlaceRelay {
        toWeb.relay(inPlace: buffer, length: length, header: header, counters: &counters)
    }

    /// Queues a DTMF digit the browser sent by SIP INFO, to go to the trunk as RFC 4733 events
    /// paced in real time by `timeout(now:)`; false when the trunk has no telephone-event.
    @discardableResult
    public func queueDigitTowardTrunk(_ digit: Character, durationMilliseconds: Int) -> Bool {
        toTrunk.queue(digit, durationMilliseconds: durationMilliseconds)
    }

    /// When `timeout(now:)` has made-up DTMF packets to send next (nil: none queued).
    public var nextDeadline: NIODeadline? { earliest(toTrunk.nextDigitDeadline, toWeb.nextDigitDeadline) }

    /// The DTMF packets Tandem makes up (SIP INFO digits, digits detected in band) that are due
    /// at `now`: the start packet, an update every 50 ms, then the end packet three times
    /// (RFC 4733 §2.5), one digit after another, 40 ms apart.
    public func timeout(now: NIODeadline) -> (toTrunk: [[UInt8]], toWeb: [[UInt8]]) {
        (toTrunk.digitPackets(now: now, counters: &counters), toWeb.digitPackets(now: now, counters: &counters))
    }
}

/// One direction of the bridge.
private final class Direction {
    private let input: BridgeStream
    private let output: BridgeStream
    private let relay: Bool
    // Relay: the header rewritten onto our stream.
    private var rewriter: StreamRewriter
    // Transcode: decoder, concealment, repacketizer, encoder; buffers reused for every packet.
    private let opusDecoder: OpusVoiceDecoder?
    private let opusEncoder: OpusVoiceEncoder?
    private let plc: G711LossConcealer?
    private let detector: DTMFDetector?
    private var repacketizer: Repacketizer<Int16>
    private var pcm = [Int16](repeating: 0, count: 960)  // 120 ms at 8 kHz, Opus's longest frame
    private var frame: [Int16]
    private var encoded = [UInt8](repeating: 0, count: 1500)
    private var expectedSequence: UInt16?
    /// The input timestamp the next audio frame should carry: a later one (DTMF or DTX took the
    /// time in between) moves the output timestamp on by the same time.
    private var expectedTimestamp: UInt32?
    private let inputTicksPerSample: Int
    /// One input packet's duration in RTP ticks: how far a relayed stream moves on when its source changes.
    private var inputPacketTicks: UInt32 { UInt32(input.codec.clockRate / 1000 * input.ptime) }
    private var lastFrameSamples = 160
    private var sequence = UInt16.random(in: 0...UInt16.max)
    private var timestamp = UInt32.random(in: 0...UInt32.max)
    private var started = false
    /// Output timestamp ticks per 8 kHz sample.
    private let ticksPerSample: UInt32
    // telephone-event continuity: the input event's timestamp and the one it has on output.
    private var eventInputTimestamp: UInt32?
    private var eventOutputTimestamp: UInt32 = 0
    /// The earliest timestamp for the next digit Tandem makes up (INFO, in-band detection).
    private var nextSyntheticEvent: UInt32?

    init(from input: BridgeStream, to output: BridgeStream, relay: Bool, opus: OpusEncoderSettings, detectDTMF: Bool) throws {
        self.input = input
        self.output = output
        self.relay = relay
        rewriter = StreamRewriter(ssrc: output.ssrc, initialSequence: UInt16.random(in: 0...UInt16.max),
                                  initialTimestamp: UInt32.random(in: 0...UInt32.max))
        opusDecoder = !relay && input.codec == .opus ? try OpusVoiceDecoder(sampleRate: 8000) : nil
        opusEncoder = !relay && output.codec == .opus ? try OpusVoiceEncoder(opus) : nil
        plc = !relay && input.codec != .opus ? G711LossConcealer() : nil
        detector = detectDTMF && !relay ? DTMFDetector() : nil
        let frameLength = 8 * max(10, output.codec == .opus ? 20 : output.ptime)
        repacketizer = Repacketizer(frameLength: frameLength, capacity: frameLength * 8)
        frame = [Int16](repeating: 0, count: frameLength)
        ticksPerSample = UInt32(output.codec.clockRate / 8000)
        inputTicksPerSample = input.codec.clockRate / 8000
    }

    /// Input timestamp ticks (at the input codec's clock) as output ticks.
    private func outputTicks(_ inputTicks: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: inputTicks / inputTicksPerSample) &* ticksPerSample
    }

    func process(_ packet: [UInt8], counters: inout MediaBridgeCounters) -> [[UInt8]] {
        guard let header = try? RTPHeader(parsing: packet) else {
            counters.dropped += 1
            return []
        }
        if let event = input.telephoneEvent, header.payloadType == event.payloadType {
            return telephoneEvent(packet, header: header, clockRate: event.clockRate, counters: &counters)
        }
        guard header.payloadType == input.payloadType else {
            counters.dropped += 1  // comfort noise, a codec not negotiated, ...
            return []
        }
        if relay {
            var out = packet
            let relayed = out.withUnsafeMutableBytes { rewrite(inPlace: $0, header: header, counters: &counters) }
            out.removeLast(out.count - relayed.length)
            return [out]
        }
        return transcode(packet, header: header, counters: &counters)
    }

    /// The fast path's relay: a packet of the negotiated payload type is rewritten where it lies.
    func relay(inPlace buffer: UnsafeMutableRawBufferPointer, length: Int, header: RTPHeader,
               counters: inout MediaBridgeCounters) -> MediaBridge.InPlaceRelay {
        guard relay, input.telephoneEvent?.payloadType != header.payloadType else { return .general }
        guard header.payloadType == input.payloadType else {
            counters.dropped += 1  // comfort noise, a codec not negotiated, ...
            return .dropped
        }
        let relayed = rewrite(inPlace: buffer, header: header, counters: &counters)
        return .packet(length: relayed.length, header: relayed.header)
    }

    /// Rewrites a relayed packet's header onto our stream (sequence, timestamp, SSRC, payload
    /// type) and moves its payload up behind a 12-byte header (no CSRCs, extension or padding).
    private func rewrite(inPlace buffer: UnsafeMutableRawBufferPointer, header: RTPHeader,
                         counters: inout MediaBridgeCounters) -> (length: Int, header: RTPHeader) {
        let (outSequence, outTimestamp) = rewriter.rewrite(source: header.ssrc, sequence: header.sequenceNumber,
                                                           timestamp: header.timestamp, gap: inputPacketTicks)
        counters.relayed += 1
        let payload = header.payloadRange
        if payload.lowerBound != 12, !payload.isEmpty {
            buffer.baseAddress!.advanced(by: 12).copyMemory(from: buffer.baseAddress!.advanced(by: payload.lowerBound), byteCount: payload.count)
        }
        RTPHeader.write(marker: header.marker, payloadType: output.payloadType, sequenceNumber: outSequence, timestamp: outTimestamp,
                        ssrc: output.ssrc, into: buffer)
        var out = header
        out.payloadType = output.payloadType
        out.sequenceNumber = outSequence
        out.timestamp = outTimestamp
        out.ssrc = output.ssrc
        out.csrcCount = 0
        out.extensionProfile = nil
        out.extensionRange = nil
        out.payloadRange = 12..<(12 + payload.count)
        out.paddingLength = 0
        return (12 + payload.count, out)
    }

    // MARK: Transcoding

    private func transcode(_ packet: [UInt8], header: RTPHeader, counters: inout MediaBridgeCounters) -> [[UInt8]] {
        var out: [[UInt8]] = []
        // Loss: a gap in sequence numbers is filled with up to three concealed frames (the last
        // from Opus FEC when this packet carries it); a longer gap moves the timestamp on.
        if let expected = expectedSequence {
            let gap = Int(Int16(bitPattern: header.sequenceNumber &- expected))
            if gap < 0 {
                counters.dropped += 1  // too late: its place in the stream has been played
                return []
            }
            if let expectedTimestamp {
                // Time that passed without audio or loss (a DTMF event, DTX silence) passes on output too.
                let excess = Int(Int32(bitPattern: header.timestamp &- expectedTimestamp)) - gap * lastFrameSamples * inputTicksPerSample
                if excess > 0 && excess < input.codec.clockRate * 60 { timestamp &+= outputTicks(excess) }
            }
            if gap > 0 {
                let concealed = min(gap, 3)
                for index in 0..<concealed {
                    let samples = conceal(packet, header: header, useFEC: index == concealed - 1, counters: &counters)
                    if samples > 0 { out += push(count: samples, counters: &counters) }
                }
                if gap > concealed {
                    timestamp &+= UInt32(gap - concealed) * UInt32(lastFrameSamples) * ticksPerSample
                }
            }
        }
        expectedSequence = header.sequenceNumber &+ 1
        let samples = decode(packet, header: header)
        guard samples > 0 else {
            counters.dropped += 1
            return out
        }
        lastFrameSamples = samples
        expectedTimestamp = header.timestamp &+ UInt32(samples * inputTicksPerSample)
        if let detector {
            let digits = pcm.withUnsafeBufferPointer { detector.process(UnsafeBufferPointer(rebasing: $0[0..<samples])) }
            for digit in digits where queue(digit, durationMilliseconds: 100) {
                counters.inbandDigits += 1
            }
        }
        return out + push(count: samples, counters: &counters)
    }

    /// Decodes the packet's payload into `pcm`; returns the sample count (0 on failure).
    private func decode(_ packet: [UInt8], header: RTPHeader) -> Int {
        let payload = header.payloadRange
        switch input.codec {
        case .opus:
            guard let decoder = opusDecoder else { return 0 }
            return packet.withUnsafeBytes { raw in
                pcm.withUnsafeMutableBufferPointer { pcm in
                    (try? decoder.decode(UnsafeRawBufferPointer(rebasing: raw[payload]), into: pcm)) ?? 0
                }
            }
        case .pcmu, .pcma:
            let count = min(payload.count, pcm.count)
            packet.withUnsafeBufferPointer { bytes in
                pcm.withUnsafeMutableBufferPointer { pcm in
                    let source = UnsafeBufferPointer(rebasing: bytes[payload.lowerBound..<(payload.lowerBound + count)])
                    let target = UnsafeMutableBufferPointer(rebasing: pcm[0..<count])
                    if input.codec == .pcmu { MuLaw.decode(source, into: target) } else { ALaw.decode(source, into: target) }
                    plc?.received(target)
                }
            }
            return count
        }
    }

    /// Fills `pcm` with one concealed frame; returns its sample count.
    private func conceal(_ packet: [UInt8], header: RTPHeader, useFEC: Bool, counters: inout MediaBridgeCounters) -> Int {
        let length = min(lastFrameSamples, pcm.count)
        let samples: Int = pcm.withUnsafeMutableBufferPointer { pcm in
            let target = UnsafeMutableBufferPointer(rebasing: pcm[0..<length])
            if let decoder = opusDecoder {
                if useFEC {
                    let payload = header.payloadRange
                    let recovered = packet.withUnsafeBytes { raw in
                        (try? decoder.decode(UnsafeRawBufferPointer(rebasing: raw[payload]), into: target, fromFEC: true)) ?? 0
                    }
                    if recovered > 0 {
                        counters.fecRecoveredFrames += 1
                        return recovered
                    }
                }
                return (try? decoder.conceal(into: target)) ?? 0
            }
            plc?.conceal(into: target)
            return length
        }
        counters.concealedFrames += 1
        return samples
    }

    /// Queues `count` samples of `pcm` and encodes every whole outgoing frame.
    private func push(count: Int, counters: inout MediaBridgeCounters) -> [[UInt8]] {
        pcm.withUnsafeBufferPointer { _ = repacketizer.push(UnsafeBufferPointer(rebasing: $0[0..<count])) }
        var out: [[UInt8]] = []
        while repacketizer.hasFrame {
            _ = frame.withUnsafeMutableBufferPointer { repacketizer.pop(into: $0) }
            guard let length = encodeFrame(), length > 0 else {
                counters.dropped += 1
                continue
            }
            counters.transcodedFrames += 1
            out.append(makePacket(marker: !started, payloadType: output.payloadType, sequence: sequence, timestamp: timestamp,
                                  payload: encoded[0..<length]))
            started = true
            sequence &+= 1
            timestamp &+= UInt32(frame.count) * ticksPerSample
        }
        return out
    }

    /// Encodes `frame` into `encoded`; returns the payload length.
    private func encodeFrame() -> Int? {
        switch output.codec {
        case .opus:
            guard let encoder = opusEncoder else { return nil }
            return frame.withUnsafeBufferPointer { pcm in
                encoded.withUnsafeMutableBytes { try? encoder.encode(pcm, into: $0) }
            }
        case .pcmu, .pcma:
            frame.withUnsafeBufferPointer { pcm in
                encoded.withUnsafeMutableBufferPointer { bytes in
                    let target = UnsafeMutableBufferPointer(rebasing: bytes[0..<pcm.count])
                    if output.codec == .pcmu { MuLaw.encode(pcm, into: target) } else { ALaw.encode(pcm, into: target) }
                }
            }
            return frame.count
        }
    }

    // MARK: telephone-event (RFC 4733)

    private func telephoneEvent(_ packet: [UInt8], header: RTPHeader, clockRate: Int, counters: inout MediaBridgeCounters) -> [[UInt8]] {
        guard let target = output.telephoneEvent, header.payloadRange.count >= 4,
            let event = packet.withUnsafeBytes({ raw in try? TelephoneEvent(parsing: UnsafeRawBufferPointer(rebasing: raw[header.payloadRange])) })
        else {
            counters.dropped += 1
            return []
        }
        let translated = event.translated(from: clockRate, to: target.clockRate)
        var payload = [UInt8](repeating: 0, count: 4)
        payload.withUnsafeMutableBytes { translated.write(into: $0) }
        let outSequence: UInt16
        let outTimestamp: UInt32
        if relay {
            (outSequence, outTimestamp) = rewriter.rewrite(source: header.ssrc, sequence: header.sequenceNumber, timestamp: header.timestamp,
                                                           gap: inputPacketTicks)
        } else {
            // Every packet of one event keeps the event's start timestamp (RFC 4733 §2.3.1):
            // the audio timestamp on output when the event began.
            if eventInputTimestamp != header.timestamp {
                eventInputTimestamp = header.timestamp
                eventOutputTimestamp = timestamp
                if let expectedTimestamp {
                    let ahead = Int(Int32(bitPattern: header.timestamp &- expectedTimestamp))
                    if ahead > 0 && ahead < input.codec.clockRate * 60 { eventOutputTimestamp &+= outputTicks(ahead) }
                }
            }
            outSequence = sequence
            outTimestamp = eventOutputTimestamp
            sequence &+= 1
            expectedSequence = header.sequenceNumber &+ 1
        }
        counters.dtmfPackets += 1
        return [makePacket(marker: header.marker, payloadType: target.payloadType, sequence: outSequence, timestamp: outTimestamp,
                           payload: payload[...])]
    }

    // MARK: Digits Tandem makes up (RFC 4733 §2.5: start, updates, end three times)

    private struct ActiveDigit {
        var code: UInt8
        var durationMilliseconds: Int
        var timestamp: UInt32
        var startedAt: NIODeadline
        var nextPacketAt: NIODeadline
    }

    private var digitQueue: [(digit: Character, milliseconds: Int)] = []
    private var activeDigit: ActiveDigit?
    private var nextDigitAllowedAt: NIODeadline?
    private static let digitUpdateInterval = TimeAmount.milliseconds(50)
    private static let digitGap = TimeAmount.milliseconds(40)

    /// Queues a digit; false when this leg has no telephone-event or the digit is not DTMF.
    func queue(_ digit: Character, durationMilliseconds: Int) -> Bool {
        guard output.telephoneEvent != nil, TelephoneEvent.event(for: digit) != nil else { return false }
        if digitQueue.count < 32 { digitQueue.append((digit, max(40, durationMilliseconds))) }
        return true
    }

    var nextDigitDeadline: NIODeadline? {
        if let activeDigit { return activeDigit.nextPacketAt }
        guard !digitQueue.isEmpty else { return nil }
        return nextDigitAllowedAt ?? .uptimeNanoseconds(0)
    }

    func digitPackets(now: NIODeadline, counters: inout MediaBridgeCounters) -> [[UInt8]] {
        guard let target = output.telephoneEvent else { return [] }
        var packets: [[UInt8]] = []
        if activeDigit == nil, !digitQueue.isEmpty, (nextDigitAllowedAt ?? now) <= now {
            let (digit, milliseconds) = digitQueue.removeFirst()
            guard let code = TelephoneEvent.event(for: digit) else { return [] }
            // The event starts at the stream's current timestamp, never inside the previous one.
            var start = relay ? rewriter.insert(count: 0).timestamp : timestamp
            if let earliest = nextSyntheticEvent, Int32(bitPattern: earliest &- start) > 0 { start = earliest }
            activeDigit = ActiveDigit(code: code, durationMilliseconds: milliseconds, timestamp: start, startedAt: now,
                                      nextPacketAt: now + Self.digitUpdateInterval)
            packets.append(eventPacket(code: code, end: false, duration: 0, timestamp: start, marker: true, payloadType: target.payloadType))
        } else if var digit = activeDigit, digit.nextPacketAt <= now {
            let elapsed = Int((now - digit.startedAt).nanoseconds / 1_000_000)
            let ticks = { (milliseconds: Int) in UInt16(clamping: milliseconds * target.clockRate / 1000) }
            if elapsed >= digit.durationMilliseconds {
                for _ in 0..<3 {
                    packets.append(eventPacket(code: digit.code, end: true, duration: ticks(digit.durationMilliseconds), timestamp: digit.timestamp,
                                               marker: false, payloadType: target.payloadType))
                }
                let perMillisecond = UInt32(output.codec.clockRate / 1000)
                nextSyntheticEvent = digit.timestamp &+ UInt32(digit.durationMilliseconds + 40) &* perMillisecond
                nextDigitAllowedAt = now + Self.digitGap
                activeDigit = nil
            } else {
                packets.append(eventPacket(code: digit.code, end: false, duration: ticks(elapsed), timestamp: digit.timestamp,
                                           marker: false, payloadType: target.payloadType))
                digit.nextPacketAt = min(now + Self.digitUpdateInterval, digit.startedAt + .milliseconds(Int64(digit.durationMilliseconds)))
                activeDigit = digit
            }
        }
        counters.dtmfPackets += packets.count
        return packets
    }

    private func eventPacket(code: UInt8, end: Bool, duration: UInt16, timestamp: UInt32, marker: Bool, payloadType: UInt8) -> [UInt8] {
        var payload = [UInt8](repeating: 0, count: 4)
        payload.withUnsafeMutableBytes { TelephoneEvent(event: code, end: end, volume: 10, duration: duration).write(into: $0) }
        let sequence: UInt16
        if relay {
            sequence = rewriter.insert(count: 1).sequence
        } else {
            sequence = self.sequence
            self.sequence &+= 1
        }
        return makePacket(marker: marker, payloadType: payloadType, sequence: sequence, timestamp: timestamp, payload: payload[...])
    }

    private func makePacket(marker: Bool, payloadType: UInt8, sequence: UInt16, timestamp: UInt32, payload: ArraySlice<UInt8>) -> [UInt8] {
        var packet = [UInt8](repeating: 0, count: 12 + payload.count)
        packet.withUnsafeMutableBytes { raw in
            RTPHeader.write(marker: marker, payloadType: payloadType, sequenceNumber: sequence, timestamp: timestamp, ssrc: output.ssrc,
                            into: raw)
            payload.withUnsafeBytes { source in
                if let base = source.baseAddress, !source.isEmpty { raw.baseAddress!.advanced(by: 12).copyMemory(from: base, byteCount: source.count) }
            }
        }
        return packet
    }
}
