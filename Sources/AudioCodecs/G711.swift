// G.711 µ-law (PCMU) and A-law (PCMA) companding (ITU-T G.711 §§2-3), between 16-bit linear PCM
// and one byte per sample. Decoding is a 256-entry table; encoding is the segment search of the
// recommendation, precomputed once into a table (64 KiB for µ-law over every 16-bit sample; 8 KiB
// for A-law, whose input is 13 bits). Both work on caller-owned buffers: no allocation per frame.

/// G.711 µ-law (PCMU, RTP payload type 0).
public enum MuLaw {
    private static let bias: Int32 = 0x84
    private static let clip: Int32 = 32635

    /// Compands one linear sample to µ-law.
    @inlinable
    public static func encode(_ sample: Int16) -> UInt8 { encodeTable[Int(UInt16(bitPattern: sample))] }

    /// µ-law code of every 16-bit sample, indexed by its bit pattern.
    @usableFromInline
    static let encodeTable: [UInt8] = (0...0xFFFF).map { encodeSlow(Int16(bitPattern: UInt16($0))) }

    @usableFromInline
    static func encodeSlow(_ sample: Int16) -> UInt8 {
        var value = Int32(sample)
        let sign: Int32 = value < 0 ? 0x80 : 0
        if sign != 0 { value = -value }
        if value > clip { value = clip }
        value += bias
        var exponent: Int32 = 7
        var mask: Int32 = 0x4000
        while exponent > 0 && (value & mask) == 0 {
            exponent -= 1
            mask >>= 1
        }
        let mantissa = (value >> (exponent + 3)) & 0x0F
        return ~UInt8(truncatingIfNeeded: sign | (exponent << 4) | mantissa)
    }

    /// Expands one µ-law byte to a linear sample.
    @inlinable
    public static func decode(_ byte: UInt8) -> Int16 { decodeTable[Int(byte)] }

    @usableFromInline
    static let decodeTable: [Int16] = (0...255).map { code in
        let u = ~UInt8(code)
        let exponent = Int32((u >> 4) & 0x07)
        let mantissa = Int32(u & 0x0F)
        let magnitude = (((mantissa << 3) + bias) << exponent) - bias
        return Int16(u & 0x80 != 0 ? -magnitude : magnitude)
    }

    /// Compands `input` into `output`, which must be at least as long.
    public static func encode(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<UInt8>) {
        precondition(output.count >= input.count, "G.711 output buffer too small")
        encodeTable.withUnsafeBufferPointer { table in
            for i in 0..<input.count { output[i] = table[Int(UInt16(bitPattern: input[i]))] }
        }
    }

    /// Expands `input` into `output`, which must be at least as long.
    public static func decode(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<Int16>) {
        precondition(output.count >= input.count, "G.711 output buffer too small")
        decodeTable.withUnsafeBufferPointer { table in
            for i in 0..<input.count { output[i] = table[Int(input[i])] }
        }
    }
}

/// G.711 A-law (PCMA, RTP payload type 8).
public enum ALaw {
    private static let segmentEnds: [Int32] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]

    /// Compands one linear sample to A-law.
    @inlinable
    public static func encode(_ sample: Int16) -> UInt8 { encodeTable[Int(UInt16(bitPattern: sample) >> 3)] }

    /// A-law code of every 13-bit input (A-law ignores the 3 low bits), by the sample's top bits.
    @usableFromInline
    static let encodeTable: [UInt8] = (0..<0x2000).map { encodeSlow(Int16(bitPattern: UInt16($0) << 3)) }

    @usableFromInline
    static func encodeSlow(_ sample: Int16) -> UInt8 {
        var pcm = Int32(sample) >> 3  // A-law works on 13-bit magnitudes
        let mask: UInt8
        if pcm >= 0 {
            mask = 0xD5
        } else {
            mask = 0x55
            pcm = -pcm - 1
        }
        var segment = 0
        while segment < 8 && pcm > segmentEnds[segment] { segment += 1 }
        if segment >= 8 { return 0x7F ^ mask }
        var code = Int32(segment << 4)
        code |= segment < 2 ? (pcm >> 1) & 0x0F : (pcm >> Int32(segment)) & 0x0F
        return UInt8(truncatingIfNeeded: code) ^ mask
    }

    /// Expands one A-law byte to a linear sample.
    @inlinable
    public static func decode(_ byte: UInt8) -> Int16 { decodeTable[Int(byte)] }

    @usableFromInline
    static let decodeTable: [Int16] = (0...255).map { code in
        let a = UInt8(code) ^ 0x55
        var t = Int32(a & 0x0F) << 4
        let segment = Int32((a & 0x70) >> 4)
        switch segment {
        case 0: t += 8
        case 1: t += 0x108
        default:
            t += 0x108
            t <<= segment - 1
        }
        return Int16(a & 0x80 != 0 ? t : -t)
    }

    /// Compands `input` into `output`, which must be at least as long.
    public static func encode(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<UInt8>) {
        precondition(output.count >= input.count, "G.711 output buffer too small")
        encodeTable.withUnsafeBufferPointer { table in
            for i in 0..<input.count { output[i] = table[Int(UInt16(bitPattern: input[i]) >> 3)] }
        }
    }

    /// Expands `input` into `output`, which must be at least as long.
    public static func decode(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<Int16>) {
        precondition(output.count >= input.count, "G.711 output buffer too small")
        decodeTable.withUnsafeBufferPointer { table in
            for i in 0..<input.count { output[i] = table[Int(input[i])] }
        }
    }
}
