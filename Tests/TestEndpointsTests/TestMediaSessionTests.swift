// The test endpoints' media in memory: what echo sends back, what tone plays (measured on the
// decoded audio), and dtmf's playback of the digits it receives, checked with spandsp's detector.

import AudioCodecs
import NIOCore
import RTP
import TestEndpoints
import XCTest

final class TestMediaSessionTests: XCTestCase {
    private let start = NIODeadline.uptimeNanoseconds(5_000_000_000)

    private func rtp(payloadType: UInt8, sequence: UInt16, timestamp: UInt32, payload: [UInt8], marker: Bool = false) -> [UInt8] {
        var packet = [UInt8](repeating: 0, count: 12)
        packet.withUnsafeMutableBytes {
            RTPHeader.write(marker: marker, payloadType: payloadType, sequenceNumber: sequence, timestamp: timestamp, ssrc: 0x1234, into: $0)
        }
        return packet + payload
    }

    private func event(_ code: UInt8, end: Bool, duration: UInt16, sequence: UInt16, timestamp: UInt32) -> [UInt8] {
        var payload = [UInt8](repeating: 0, count: 4)
        payload.withUnsafeMutableBytes { TelephoneEvent(event: code, end: end, volume: 10, duration: duration).write(into: $0) }
        return rtp(payloadType: 101, sequence: sequence, timestamp: timestamp, payload: payload)
    }

    /// Decoded audio of PCMU packets.
    private func decode(_ packets: [[UInt8]]) throws -> [Int16] {
        var samples: [Int16] = []
        for packet in packets {
            let header = try RTPHeader(parsing: packet)
            XCTAssertEqual(header.payloadType, 0)
            samples += packet[header.payloadRange].map(MuLaw.decode)
        }
        return samples
    }

    /// Frequency from zero crossings (a pure tone).
    private func frequency(_ samples: ArraySlice<Int16>) -> Double {
        var crossings = 0
        var previous = samples.first ?? 0
        for sample in samples.dropFirst() {
            if (previous < 0) != (sample < 0) { crossings += 1 }
            previous = sample
        }
        return Double(crossings) / 2 / (Double(samples.count) / 8000)
    }

    func testEchoSendsEveryRTPPacketBackAsItCame() {
        let session = TestMediaSession(kind: .echo, telephoneEventPayloadType: 101, now: start)
        let audio = rtp(payloadType: 0, sequence: 7, timestamp: 160, payload: [UInt8](repeating: 0x55, count: 160))
        XCTAssertEqual(session.receive(audio, now: start).send, [audio])
        let dtmf = event(5, end: false, duration: 160, sequence: 8, timestamp: 320)
        XCTAssertEqual(session.receive(dtmf, now: start).send, [dtmf])
        XCTAssertTrue(session.receive([0x00, 0x01, 0x02], now: start).send.isEmpty, "not RTP")
        XCTAssertTrue(session.receive([0x80], now: start).send.isEmpty, "too short")
        XCTAssertNil(session.nextDeadline, "echo sends nothing of its own")
        XCTAssertTrue(session.tick(now: start + .seconds(1)).isEmpty)
        XCTAssertEqual(session.packetsReceived, 2)
    }

    func testTonePlays1kHzThenASweepIn20msPCMUFrames() throws {
        let session = TestMediaSession(kind: .tone, telephoneEventPayloadType: nil, now: start)
        var packets: [[UInt8]] = []
        var now = start
        while now < start + .seconds(5) {
            packets += session.tick(now: now)
            now = now + .milliseconds(20)
        }
        XCTAssertEqual(packets.count, 250)
        let headers = try packets.map { try RTPHeader(parsing: $0) }
        XCTAssertTrue(headers[0].marker)
        XCTAssertFalse(headers[1].marker)
        for (a, b) in zip(headers, headers.dropFirst()) {
            XCTAssertEqual(b.sequenceNumber, a.sequenceNumber &+ 1)
            XCTAssertEqual(b.timestamp, a.timestamp &+ 160)
            XCTAssertEqual(b.ssrc, a.ssrc)
        }
        XCTAssertTrue(packets.allSatisfy { $0.count == 172 })
        let samples = try decode(packets)
        XCTAssertEqual(frequency(samples[0..<16000]), 1000, accuracy: 10, "the first 2 s")
        // The sweep rises: 300 Hz at 2 s, 1650 Hz at 3.5 s, 3000 Hz at 5 s.
        let early = frequency(samples[16800..<17600]), middle = frequency(samples[27600..<28400]), late = frequency(samples[38400..<39200])
        XCTAssertEqual(early, 300 + 2700 * 0.15 / 3, accuracy: 40)
        XCTAssertEqual(middle, 1650, accuracy: 40)
        XCTAssertGreaterThan(late, 2800)
        let peak = samples.map { abs(Int($0)) }.max() ?? 0
        XCTAssertTrue((8000...11000).contains(peak), "about -10 dBFS: \(peak)")
    }

    func testTheTonePatternStartsAgainWhenTheCallerIsFirstHeard() throws {
        let session = TestMediaSession(kind: .tone, telephoneEventPayloadType: nil, now: start)
        _ = session.tick(now: start + .milliseconds(2900))  // the caller's media took 2.9 s to start
        _ = session.receive(rtp(payloadType: 0, sequence: 1, timestamp: 0, payload: [0xFF]), now: start + .seconds(3))
        var packets: [[UInt8]] = []
        var now = start + .seconds(3)
        while now < start + .seconds(4) {
            packets += session.tick(now: now)
            now = now + .milliseconds(20)
        }
        XCTAssertEqual(frequency(try decode(packets)[...]), 1000, accuracy: 10, "still 1 kHz a second after the caller was heard")
    }

    func testDtmfPlaysBackEachDigitOnceAsATone() throws {
        let session = TestMediaSession(kind: .dtmf, telephoneEventPayloadType: 101, now: start)
        var now = start
        var sent: [[UInt8]] = []
        var sequence: UInt16 = 1
        for (index, code) in [UInt8(4), 11].enumerated() {
            let timestamp = UInt32(index) * 8000
            for step in 1...5 {
                XCTAssertNil(session.receive(event(code, end: false, duration: UInt16(step) * 160, sequence: sequence, timestamp: timestamp), now: now).heard)
                sequence &+= 1
            }
            var heard: [Character] = []
            for _ in 0..<3 {  // the end packet, sent three times
                if let digit = session.receive(event(code, end: true, duration: 960, sequence: sequence, timestamp: timestamp), now: now).heard {
                    heard.append(digit)
                }
                sequence &+= 1
            }
            XCTAssertEqual(heard, [code == 4 ? "4" : "#"])
            // Audio in other payload types is not a digit.
            XCTAssertNil(session.receive(rtp(payloadType: 0, sequence: sequence, timestamp: timestamp, payload: [1, 2, 3, 4]), now: now).heard)
            let until = now + .seconds(1)
            while now < until {
                sent += session.tick(now: now)
                now = now + .milliseconds(20)
            }
        }
        XCTAssertEqual(session.digits, "4#")
        session.play("7")
        session.play("x")
        let until = now + .seconds(1)
        while now < until {
            sent += session.tick(now: now)
            now = now + .milliseconds(20)
        }
        XCTAssertEqual(session.digits, "4#7")
        let detector = DTMFDetector()
        let samples = try decode(sent)
        let detected = samples.withUnsafeBufferPointer { detector.process($0) }
        XCTAssertEqual(String(detected), "4#7")
        XCTAssertTrue(samples[8000..<16000].contains { $0 != 0 }, "a tone in the second second")
        XCTAssertTrue(samples[7200..<8000].allSatisfy { abs(Int($0)) < 8 }, "silence between digits")
    }
}
