// The daemon's end of the control socket: a Unix-domain stream listener with a restrictive mode,
// newline-framed JSON requests answered by a ControlCommandHandler. Refuses to start when another
// daemon already answers on the same path.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix

public struct ControlServerError: Error, CustomStringConvertible {
    public var description: String
}

/// A bound control socket.
public final class ControlServer: Sendable {
    public let path: String
    private let channel: any Channel

    private init(path: String, channel: any Channel) {
        self.path = path
        self.channel = channel
    }

    /// Binds the control socket at `path` with permission bits `mode`, creating its directory
    /// when missing.
    public static func bind(
        path: String, mode: UInt16, group: any EventLoopGroup, handler: any ControlCommandHandler, logger: Logger
    ) async throws -> ControlServer {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && access(directory, F_OK) != 0 {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            } catch {
                throw ControlServerError(description: "cannot create \(directory) for the control socket: \(error.localizedDescription)")
            }
        }
        if ControlClient.isAnswering(path: path) {
            throw ControlServerError(description: "another tandemd already answers on \(path)")
        }
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(ControlLineHandler(handler: handler, logger: logger))
                    }
                }
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        } catch {
            throw ControlServerError(description: "cannot bind control socket \(path): \(error)")
        }
        guard chmod(path, mode_t(mode)) == 0 else {
            let reason = String(cString: strerror(errno))
            try? await channel.close()
            throw ControlServerError(description: "cannot set mode \(String(mode, radix: 8)) on \(path): \(reason)")
        }
        return ControlServer(path: path, channel: channel)
    }

    /// Stops listening and removes the socket file.
    public func close() async {
        try? await channel.close()
        unlink(path)
    }
}

/// Splits a byte stream into lines (without the terminator), refusing over-long ones.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    struct LineTooLong: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > ControlProtocol.maxLineLength { throw LineTooLong() }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytesView.last == UInt8(ascii: "\r") { line = line.getSlice(at: line.readerIndex, length: line.readableBytes - 1)! }
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Answers each request line in order.
final class ControlLineHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handler: any ControlCommandHandler
    private let logger: Logger

    init(handler: any ControlCommandHandler, logger: Logger) {
        self.handler = handler
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = String(buffer: unwrapInboundIn(data))
        let channel = context.channel
        let handler = self.handler
        let promise = context.eventLoop.makePromise(of: ByteBuffer.self)
        promise.completeWithTask {
            let response = await handler.respond(to: line)
            var bytes = (try? ControlProtocol.encoder().encode(response)) ?? Data("{\"version\":1,\"ok\":false}".utf8)
            bytes.append(UInt8(ascii: "\n"))
            return ByteBuffer(bytes: bytes)
        }
        promise.futureResult.whenSuccess { buffer in
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is LineFrameDecoder.LineTooLong {
            var message = (try? ControlProtocol.encoder().encode(ControlResponse.failure("request line too long"))) ?? Data()
            message.append(UInt8(ascii: "\n"))
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: message))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        logger.debug("control connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
