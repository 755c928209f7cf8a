// SIP message framing, sans-IO: where one SIP message ends on a byte stream (TCP, TLS) and what a
// datagram carries (UDP). It reads no more of a message than framing needs: the end of the header
// section (the first CRLFCRLF) and the Content-Length header (full or compact `l` form). Parsing
// the message itself belongs to the SIP target.
//
// Follows RFC 3261 §7.5 (empty lines before a message are ignored), §18.3 (Content-Length is
// mandatory on streams; on datagrams it may truncate the body, and a message whose body is shorter
// than it says is discarded), §20.14 (Content-Length, compact form `l`) and RFC 5626 §4.4.1 (a
// double CRLF "ping" between messages is answered with a single CRLF "pong").
//
// `SIPStreamFrameDecoder` is the thin NIO adapter around `SIPStreamFramer`.

import NIOCore

private let cr = UInt8(ascii: "\r")
private let lf = UInt8(ascii: "\n")

/// Splits a SIP byte stream into whole messages (RFC 3261 §18.3) and spots CRLF keep-alives
/// (RFC 5626 §4.4.1). Feed it the connection's accumulated bytes; it consumes what it returns.
public struct SIPStreamFramer: Sendable {
    /// 64 KiB, the largest message a peer may send before its connection is closed.
    public static let defaultMaximumMessageSize = 65_536

    /// What the stream holds at its front.
    public enum Frame: Sendable, Equatable {
        /// Exactly one SIP message: header section, the empty line, and Content-Length body bytes.
        case message(ByteBuffer)
        /// A double CRLF between messages; the caller answers with a single CRLF.
        case keepAlivePing
    }

    /// The stream cannot be framed any more; the connection should be closed.
    public enum FramingError: Error, Sendable, Equatable, CustomStringConvertible {
        case missingContentLength
        case invalidContentLength
        case messageTooLarge(limit: Int)

        public var description: String {
            switch self {
            case .missingContentLength: return "SIP message on a stream without Content-Length"
            case .invalidContentLength: return "SIP message with an invalid Content-Length"
            case .messageTooLarge(let limit): return "SIP message larger than \(limit) bytes"
            }
        }
    }

    public let maximumMessageSize: Int
    /// CRLFs consumed since the last message or ping.
    private var pendingCRLFs = 0
    /// Bytes at the front already searched for the end of the headers, without finding it.
    private var searchedBytes = 0
    /// The full length of the message at the front, once its header section is complete.
    private var messageLength: Int?

    public init(maximumMessageSize: Int = SIPStreamFramer.defaultMaximumMessageSize) {
        precondition(maximumMessageSize > 0)
        self.maximumMessageSize = maximumMessageSize
    }

    /// Takes the next frame off the front of `buffer`, or returns nil when more bytes are needed.
    /// After an error the stream is unusable and the framer should be dropped with it.
    public mutating func next(from buffer: inout ByteBuffer) throws(FramingError) -> Frame? {
        if let length = messageLength {
            guard buffer.readableBytes >= length else { return nil }
            messageLength = nil
            return .message(buffer.readSlice(length: length)!)
        }

        // Between messages: CRLFs are keep-alives (two make a ping) or stray empty lines.
        if searchedBytes == 0 {
            while let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), first == cr {
                guard let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) else { return nil }
                guard second == lf else { break }
                buffer.moveReaderIndex(forwardBy: 2)
                pendingCRLFs += 1
                if pendingCRLFs == 2 {
                    pendingCRLFs = 0
                    return .keepAlivePing
                }
            }
            guard buffer.readableBytes > 0 else { return nil }
            pendingCRLFs = 0
        }

        let available = buffer.readableBytes
        guard let headerLength = Self.headerSectionLength(buffer, searchFrom: searchedBytes) else {
            guard available <= maximumMessageSize else { throw .messageTooLarge(limit: maximumMessageSize) }
            searchedBytes = available
            return nil
        }
        searchedBytes = 0
        guard headerLength <= maximumMessageSize else { throw .messageTooLarge(limit: maximumMessageSize) }
        guard let bodyLength = try Self.contentLength(buffer, headerLength: headerLength) else {
            throw .missingContentLength
        }
        let total = headerLength + bodyLength
        guard total <= maximumMessageSize else { throw .messageTooLarge(limit: maximumMessageSize) }
        guard available >= total else {
            messageLength = total
            return nil
        }
        return .message(buffer.readSlice(length: total)!)
    }

    /// The length of the header section including its closing CRLFCRLF, if the buffer holds it.
    /// `searchFrom` bytes were searched before; the search backs up three to catch a split CRLFCRLF.
    static func headerSectionLength(_ buffer: ByteBuffer, searchFrom: Int) -> Int? {
        buffer.withUnsafeReadableBytes { bytes in
            guard bytes.count >= 4 else { return nil }
            var index = max(0, searchFrom - 3)
            while index + 3 < bytes.count {
                if bytes[index + 3] != lf {
                    // The CRLFCRLF cannot end here; skip ahead when the byte is not even part of one.
                    index += bytes[index + 3] == cr ? 1 : 4
                    continue
                }
                if bytes[index] == cr && bytes[index + 1] == lf && bytes[index + 2] == cr { return index + 4 }
                index += 1
            }
            return nil
        }
    }

    /// The Content-Length value in the header section at the front of `buffer` (`headerLength`
    /// bytes, closing CRLFCRLF included), nil when the header is absent. Folded lines are skipped:
    /// Content-Length itself is never folded. Repeated headers must agree. Values beyond any sane
    /// size are clamped so that they fail the size limit rather than overflow.
    static func contentLength(_ buffer: ByteBuffer, headerLength: Int) throws(FramingError) -> Int? {
        let result: Result<Int?, FramingError> = buffer.withUnsafeReadableBytes { all in
            let bytes = UnsafeRawBufferPointer(rebasing: all[0..<headerLength])
            var found: Int?
            var lineStart = 0
            var isStartLine = true
            while lineStart < bytes.count {
                var lineEnd = lineStart
                while lineEnd + 1 < bytes.count && !(bytes[lineEnd] == cr && bytes[lineEnd + 1] == lf) { lineEnd += 1 }
                if lineEnd + 1 >= bytes.count { lineEnd = bytes.count }
                defer { lineStart = lineEnd + 2 }
                if isStartLine {
                    isStartLine = false
                    continue
                }
                if lineEnd == lineStart { break }  // the empty line closing the headers
                let first = bytes[lineStart]
                if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { continue }  // a folded continuation
                guard let colon = bytes[lineStart..<lineEnd].firstIndex(of: UInt8(ascii: ":")) else { continue }
                guard Self.isContentLengthName(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<colon])) else { continue }
                guard let value = Self.decimalValue(UnsafeRawBufferPointer(rebasing: bytes[(colon + 1)..<lineEnd])) else {
                    return .failure(.invalidContentLength)
                }
                if let earlier = found, earlier != value { return .failure(.invalidContentLength) }
                found = value
            }
            return .success(found)
        }
        return try result.get()
    }

    /// `Content-Length` or `l`, case-insensitive, with optional whitespace before the colon.
    private static func isContentLengthName(_ raw: UnsafeRawBufferPointer) -> Bool {
        var end = raw.count
        while end > 0 && (raw[end - 1] == UInt8(ascii: " ") || raw[end - 1] == UInt8(ascii: "\t")) { end -= 1 }
        let lowered = raw[0..<end].lazy.map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 | 0x20 : $0 }
        return lowered.elementsEqual("l".utf8) || lowered.elementsEqual("content-length".utf8)
    }

    /// A run of decimal digits between optional whitespace.
    private static func decimalValue(_ raw: UnsafeRawBufferPointer) -> Int? {
        var value = 0
        var digits = 0
        var seenTrailingSpace = false
        for byte in raw {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                if digits > 0 { seenTrailingSpace = true }
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard !seenTrailingSpace else { return nil }
                value = min(value * 10 + Int(byte - UInt8(ascii: "0")), 1 << 40)
                digits += 1
            default:
                return nil
            }
        }
        return digits > 0 ? value : nil
    }
}

/// What one UDP datagram carries (RFC 3261 §18.3).
public enum SIPDatagramFraming {
    public enum Verdict: Sendable, Equatable {
        /// One SIP message, trimmed to its Content-Length when the datagram holds more.
        case message(ByteBuffer)
        /// Only CRLFs: a keep-alive, nothing to answer over UDP.
        case keepAlive
        /// Not a SIP message; dropped, with the reason for a debug log.
        case dropped(String)
    }

    public static func frame(_ datagram: ByteBuffer) -> Verdict {
        var bytes = datagram
        while bytes.readableBytesView.starts(with: [cr, lf]) { bytes.moveReaderIndex(forwardBy: 2) }
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return .keepAlive }
        // Every start line opens with a method token or "SIP/2.0"; STUN, RTP and binary noise do not.
        guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first & ~0x20) else {
            return .dropped("not a SIP start line")
        }
        guard let headerLength = SIPStreamFramer.headerSectionLength(bytes, searchFrom: 0) else {
            return .dropped("no end of headers")
        }
        let declared: Int?
        do {
            declared = try SIPStreamFramer.contentLength(bytes, headerLength: headerLength)
        } catch {
            return .dropped("\(error)")
        }
        guard let bodyLength = declared else { return .message(bytes) }
        guard headerLength + bodyLength <= bytes.readableBytes else { return .dropped("body shorter than Content-Length") }
        return .message(bytes.getSlice(at: bytes.readerIndex, length: headerLength + bodyLength)!)
    }
}

/// The NIO adapter for `SIPStreamFramer`: emits one `ByteBuffer` per SIP message, answers CRLFCRLF
/// pings with a CRLF pong, and fails the channel (so its handler closes it) on a framing error.
public struct SIPStreamFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    private var framer: SIPStreamFramer

    public init(maximumMessageSize: Int = SIPStreamFramer.defaultMaximumMessageSize) {
        self.framer = SIPStreamFramer(maximumMessageSize: maximumMessageSize)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try framer.next(from: &buffer) else { return .needMoreData }
        switch frame {
        case .message(let message):
            context.fireChannelRead(wrapInboundOut(message))
        case .keepAlivePing:
            var pong = context.channel.allocator.buffer(capacity: 2)
            pong.writeStaticString("\r\n")
            context.writeAndFlush(NIOAny(pong), promise: nil)
        }
        return .continue
    }

    /// At end of stream whole messages still go up; a partial one is dropped with the connection.
    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
