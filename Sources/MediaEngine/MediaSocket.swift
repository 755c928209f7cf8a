// One UDP socket of a media leg, bound on the call's event loop: datagrams in go to a handler on
// that loop, datagrams out are sent at once with one system call each, and one timer (LoopTimer)
// follows the leg core's next deadline. The leg drivers (WebRTC, RTP) are this plus their core.
//
// NIO watches the socket and reads it; writes skip the channel pipeline. A media datagram needs
// none of what NIO's write path offers (promises, write buffering, back-pressure): a UDP send
// either goes out or is dropped, and the socket is bound by Tandem itself so its descriptor can be
// written to directly (performance.md has what this saved).

#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// A media socket that could not be opened.
public struct MediaSocketError: Error, CustomStringConvertible {
    public var description: String
}

final class MediaSocket: @unchecked Sendable {  // confined to `eventLoop`
    let eventLoop: any EventLoop
    private var channel: (any Channel)?
    /// The bound socket's descriptor while the channel is open (NIO closes it with the channel).
    private var descriptor: CInt = -1
    /// Set while a poller reads the socket (see `MediaPoller`): the poller and the duplicate
    /// descriptor it reads, NIO's reading being switched off.
    private var batched: (poller: MediaPoller, descriptor: CInt)?
    /// The last source a batched read saw, raw and as an address (sources rarely change, and
    /// making an address formats its text).
    private var lastSource = sockaddr_storage()
    private var lastSourceLength = 0
    private var lastSourceAddress: SocketAddress?
    /// Follows the leg core's next deadline; the leg driver sets what it does.
    let timer: LoopTimer
    private let onDatagram: ([UInt8], SocketAddress) -> Void

    private init(eventLoop: any EventLoop, onDatagram: @escaping ([UInt8], SocketAddress) -> Void) {
        self.eventLoop = eventLoop
        self.onDatagram = onDatagram
        timer = LoopTimer(on: eventLoop)
    }

    /// Binds `address`:`port` on `eventLoop`; `onDatagram` runs on that loop for every datagram.
    static func bind(address: String, port: Int, on eventLoop: any EventLoop,
                     onDatagram: @escaping ([UInt8], SocketAddress) -> Void) async throws -> MediaSocket {
        let socket = MediaSocket(eventLoop: eventLoop, onDatagram: onDatagram)
        let descriptor = try Self.boundDescriptor(address: address, port: port)
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: eventLoop)
            // One read per readiness event: a media socket gets 50 packets a second, so reading on
            // until the socket says EAGAIN costs a system call per packet for nothing (epoll is
            // level-triggered: a second queued datagram wakes the loop again).
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MediaSocketHandler(socket: socket))
                }
            }
            .withBoundSocket(descriptor).get()
        } catch {
            Glibc.close(descriptor)
            throw error
        }
        try await eventLoop.submit {
            socket.channel = channel
            socket.descriptor = descriptor
        }.get()
        return socket
    }

    /// A non-blocking UDP socket bound to `address`:`port`.
    private static func boundDescriptor(address: String, port: Int) throws -> CInt {
        let local: SocketAddress
        do { local = try SocketAddress(ipAddress: address, port: port) } catch {
            throw MediaSocketError(description: "media address \(address) is not an IP address")
        }
        let family = local.protocol.rawValue
        let descriptor = socket(family, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw MediaSocketError(description: "cannot open a UDP socket: \(String(cString: strerror(errno)))")
        }
        let result = local.withSockAddr { pointer, length in Glibc.bind(descriptor, pointer, socklen_t(length)) }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw MediaSocketError(description: "cannot bind \(address):\(port) for media: \(reason)")
        }
        return descriptor
    }

    var localAddress: SocketAddress? { channel?.localAddress }

    /// Sends datagrams (on the loop), one `sendto` each; what the kernel refuses (a full send
    /// buffer, an unreachable destination) is dropped, as a network would drop it.
    func send(_ datagrams: [(bytes: [UInt8], to: SocketAddress)]) {
        for datagram in datagrams { send(datagram.bytes, to: datagram.to) }
    }

    func send(_ bytes: [UInt8], to destination: SocketAddress) {
        guard descriptor >= 0 else { return }
        _ = bytes.withUnsafeBytes { payload -> Int in
            switch destination {
            case .v4(let address):
                var raw = address.address
                return withUnsafePointer(to: &raw) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(descriptor, payload.baseAddress, payload.count, CInt(MSG_NOSIGNAL), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            case .v6(let address):
                var raw = address.address
                return withUnsafePointer(to: &raw) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(descriptor, payload.baseAddress, payload.count, CInt(MSG_NOSIGNAL), $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                    }
                }
            default:
                return -1
            }
        }
    }

    /// From now on, reads the socket every `interval` (in batches) instead of as each datagram
    /// arrives; on the loop. Nothing changes if the poller cannot take the socket.
    func readInBatches(every interval: TimeAmount) {
        guard batched == nil, descriptor >= 0, let channel, let poller = MediaPoller.on(eventLoop, every: interval) else { return }
        let copy = dup(descriptor)
        guard copy >= 0 else { return }
        guard poller.add(copy, for: self) else {
            Glibc.close(copy)
            return
        }
        batched = (poller, copy)
        // NIO stops asking for readability; what it has not read stays queued for the poller.
        channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
    }

    func close() async {
        try? await eventLoop.submit {
            self.timer.cancel()
            if let (poller, copy) = self.batched {
                poller.remove(copy)
                Glibc.close(copy)
                self.batched = nil
            }
            self.descriptor = -1  // NIO closes it with the channel: never written to after this
        }.get()
        try? await channel?.close()
    }

    fileprivate func received(_ bytes: [UInt8], from source: SocketAddress) { onDatagram(bytes, source) }

    /// A datagram the poller read, with its source as the kernel gave it.
    func received(_ bytes: [UInt8], fromRaw name: UnsafeRawPointer, length: Int) {
        let source: SocketAddress
        if let cached = lastSourceAddress, length == lastSourceLength,
            withUnsafeBytes(of: &lastSource, { memcmp($0.baseAddress!, name, length) == 0 }) {
            source = cached
        } else {
            guard let address = Self.address(name, length: length) else { return }
            withUnsafeMutableBytes(of: &lastSource) { $0.baseAddress!.copyMemory(from: name, byteCount: min(length, $0.count)) }
            lastSourceLength = length
            lastSourceAddress = address
            source = address
        }
        onDatagram(bytes, source)
    }

    private static func address(_ name: UnsafeRawPointer, length: Int) -> SocketAddress? {
        switch CInt(name.load(as: sa_family_t.self)) {
        case AF_INET where length >= MemoryLayout<sockaddr_in>.size:
            let raw = name.loadUnaligned(as: sockaddr_in.self)
            return text(of: raw.sin_addr, family: AF_INET).map { SocketAddress(raw, host: $0) }
        case AF_INET6 where length >= MemoryLayout<sockaddr_in6>.size:
            let raw = name.loadUnaligned(as: sockaddr_in6.self)
            return text(of: raw.sin6_addr, family: AF_INET6).map { SocketAddress(raw, host: $0) }
        default:
            return nil
        }
    }

    /// An IP address as text (inet_ntop).
    private static func text<Address>(of address: Address, family: CInt) -> String? {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written = withUnsafeBytes(of: address) { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) != nil }
        guard written else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

private final class MediaSocketHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let socket: MediaSocket  // a cycle until the channel closes and the pipeline lets go

    init(socket: MediaSocket) { self.socket = socket }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        socket.received(Array(envelope.data.readableBytesView), from: envelope.remoteAddress)
    }
}
