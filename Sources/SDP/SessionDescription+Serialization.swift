// Writing session descriptions in RFC 8866 §5 order with CRLF line ends:
//   v o s i u e* p* c? b* (t r*)+ z? k? a* then per media m i? c* b* k? a*.
// Attributes are written in the order they are held, exactly as held.

import NIOCore

extension SessionDescription: CustomStringConvertible {
    /// The description as text, every line ending in CRLF.
    public var serialized: String {
        var out = ""
        out.reserveCapacity(256 + media.count * 512)
        func line(_ type: Character, _ value: String) {
            out.append(type)
            out.append("=")
            out.append(value)
            out.append("\r\n")
        }
        line("v", String(version))
        line(
            "o",
            "\(origin.username) \(origin.sessionID) \(origin.sessionVersion) \(origin.networkType) \(origin.addressType) \(origin.address)"
        )
        line("s", sessionName)
        if let information { line("i", information) }
        if let uri { line("u", uri) }
        for email in emails { line("e", email) }
        for phone in phones { line("p", phone) }
        if let connection { line("c", connection.lineValue) }
        for bandwidth in bandwidths { line("b", bandwidth.lineValue) }
        for timing in timings.isEmpty ? [SDPTiming()] : timings {
            line("t", "\(timing.start) \(timing.stop)")
            for repeatLine in timing.repeats { line("r", repeatLine) }
        }
        if let timeZones { line("z", timeZones) }
        if let encryptionKey { line("k", encryptionKey) }
        for attribute in attributes { line("a", attribute.description) }
        for description in media {
            var mLine = "\(description.media) \(description.port)"
            if let count = description.portCount { mLine += "/\(count)" }
            mLine += " \(description.proto)"
            for format in description.formats { mLine += " \(format)" }
            line("m", mLine)
            if let information = description.information { line("i", information) }
            for connection in description.connections { line("c", connection.lineValue) }
            for bandwidth in description.bandwidths { line("b", bandwidth.lineValue) }
            if let key = description.encryptionKey { line("k", key) }
            for attribute in description.attributes { line("a", attribute.description) }
        }
        return out
    }

    public var description: String { serialized }

    /// Writes the description into a message body.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeString(serialized)
    }
}

extension SDPConnection {
    var lineValue: String { "\(networkType) \(addressType) \(address)" }
}

extension SDPBandwidth {
    var lineValue: String { "\(type):\(value)" }
}
