// RFC 4733 telephone-event payloads (DTMF as RTP): the 4-byte event block, and translation of
// its duration between clock rates (48 kHz toward a browser with Opus, 8 kHz toward a G.711 trunk).
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  |     event     |E|R| volume    |          duration             |

public struct TelephoneEvent: Sendable, Equatable {
    /// 0-9, 10 = *, 11 = #, 12-15 = A-D (RFC 4733 §3.2).
    public var event: UInt8
    public var end: Bool
    /// Power level in -dBm0, 0-63.
    public var volume: UInt8
    /// Duration so far, in timestamp units of the stream's clock.
    public var duration: UInt16

    public init(event: UInt8, end: Bool, volume: UInt8, duration: UInt16) {
        self.event = event
        self.end = end
        self.volume = volume
        self.duration = duration
    }

    public init(parsing payload: UnsafeRawBufferPointer) throws(RTPParseError) {
        guard payload.count >= 4 else { throw RTPParseError("telephone-event payload shorter than 4 bytes") }
        event = payload[0]
        end = payload[1] & 0x80 != 0
        volume = payload[1] & 0x3F
        duration = UInt16(payload[2]) << 8 | UInt16(payload[3])
    }

    public func write(into payload: UnsafeMutableRawBufferPointer) {
        precondition(payload.count >= 4, "telephone-event buffer too small")
        payload[0] = event
        payload[1] = (end ? 0x80 : 0) | (volume & 0x3F)
        payload[2] = UInt8(duration >> 8)
        payload[3] = UInt8(truncatingIfNeeded: duration)
    }

    /// The same event with its duration expressed at another clock rate.
    public func translated(from sourceRate: Int, to targetRate: Int) -> TelephoneEvent {
        var copy = self
        copy.duration = UInt16(clamping: Int(duration) * targetRate / sourceRate)
        return copy
    }

    /// The digit this event stands for, if it is a DTMF event.
    public var digit: Character? {
        switch event {
        case 0...9: return Character(String(event))
        case 10: return "*"
        case 11: return "#"
        case 12...15: return Character(UnicodeScalar(UInt8(ascii: "A") + event - 12))
        default: return nil
        }
    }

    /// The event code of a DTMF digit.
    public static func event(for digit: Character) -> UInt8? {
        switch digit {
        case "0"..."9": return UInt8(String(digit))
        case "*": return 10
        case "#": return 11
        case "A"..."D": return digit.asciiValue! - UInt8(ascii: "A") + 12
        case "a"..."d": return digit.asciiValue! - UInt8(ascii: "a") + 12
        default: return nil
        }
    }
}
