// One UDP socket of a media leg, bound on the call's media loop: datagrams in go to a handler on
// that loop, datagrams out are sent at once with one system call each, and one timer (LoopTimer)
// follows the leg core's next deadline. The leg drivers (WebRTC, RTP) are this plus their core.
//
// The socket is Tandem's own descriptor, watched by the MediaLoop's epoll set and read with
// recvmmsg into the loop's receive batch; writes are a `sendto` each. A media datagram needs none
// of what a channel pipeline offers (promises, write buffering, back-pressure): a UDP send either
// goes out or is dropped (performance.md has what this saved).

#if canImport(Glibc)
import Glibc
#endif
import CTandemShims
import NIOCore

/// A media socket that could not be opened.
public struct MediaSocketError: Error, CustomStringConvertible {
    public var description: String
}

final class MediaSocket: MediaReadable, @unchecked Sendable {  // confined to `eventLoop`
    let eventLoop: MediaLoop
    /// The bound socket's descriptor until `close`.
    private var descriptor: CInt = -1
    /// The loop's token for the descriptor while the loop watches it.
    private var watched: UInt64?
    /// Set while a poller reads the socket instead of the loop (see `MediaPoller`).
    private var poller: MediaPoller?
    /// The last source a read saw, raw and as an address (sources rarely change, and making an
    /// address formats its text).
    private var lastSource = sockaddr_storage()
    private var lastSourceLength = 0
    private var lastSourceAddress: SocketAddress?
    let localAddress: SocketAddress?
    /// Follows the leg core's next deadline; the leg driver sets what it does.
    let timer: LoopTimer
    private var onDatagram: ([UInt8], SocketAddress) -> Void
    /// The packet path: offered every datagram first, in the loop's receive buffer (of
    /// `MediaLoop.datagramCapacity` bytes, so a packet can grow in place by an SRTP trailer), with
    /// its length; true when it took the datagram, false to hand it to `onDatagram` as an array.
    var fastPath: ((UnsafeMutableRawBufferPointer, Int, SocketAddress) -> Bool)?

    private init(eventLoop: MediaLoop, descriptor: CInt, localAddress: SocketAddress?, onDatagram: @escaping ([UInt8], SocketAddress) -> Void) {
        self.eventLoop = eventLoop
        self.descriptor = descriptor
        self.localAddress = localAddress
        self.onDatagram = onDatagram
        timer = LoopTimer(on: eventLoop)
    }

    /// Binds `address`:`port` on `eventLoop`; `onDatagram` runs on that loop for every datagram.
    static func bind(address: String, port: Int, on eventLoop: MediaLoop,
                     onDatagram: @escaping ([UInt8], SocketAddress) -> Void) async throws -> MediaSocket {
        let descriptor = try Self.boundDescriptor(address: address, port: port)
        let socket = MediaSocket(eventLoop: eventLoop, descriptor: descriptor, localAddress: Self.localAddress(of: descriptor),
                                 onDatagram: onDatagram)
        let watching = try await eventLoop.submit { () -> Bool in
            socket.watched = eventLoop.watch(descriptor, socket)
            return socket.watched != nil
        }.get()
        guard watching else {
            Glibc.close(descriptor)
            throw MediaSocketError(description: "cannot watch the media socket on \(address):\(port): \(String(cString: strerror(errno)))")
        }
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

    private static func localAddress(of descriptor: CInt) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { address($0.baseAddress!, length: Int(length)) }
    }


    /// Sends datagrams (on the loop), one `sendto` each; what the kernel refuses (a full send
    /// buffer, an unreachable destination) is dropped, as a network would drop it.
    func send(_ datagrams: [(bytes: [UInt8], to: SocketAddress)]) {
        for datagram in datagrams { send(datagram.bytes, to: datagram.to) }
    }

    func send(_ bytes: [UInt8], to destination: SocketAddress) {
        bytes.withUnsafeBytes { send($0, to: destination) }
    }

    /// Sends the bytes of a buffer (the packet path: no array).
    func send(_ payload: UnsafeRawBufferPointer, to destination: SocketAddress) {
        guard descriptor >= 0 else { return }
        _ = {
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
        }()
    }

    /// From now on, reads the socket every `interval` (in batches) instead of as each datagram
    /// arrives; on the loop. Nothing changes if the poller cannot take the socket.
    func readInBatches(every interval: TimeAmount) {
        guard poller == nil, descriptor >= 0, let token = watched, let poller = MediaPoller.on(eventLoop, every: interval) else { return }
        eventLoop.unwatch(descriptor, token: token)
        watched = nil
        guard poller.add(descriptor, for: self) else {
            watched = eventLoop.watch(descriptor, self)
            return
        }
        self.poller = poller
    }

    func close() async {
        try? await eventLoop.submit {
            self.timer.cancel()
            guard self.descriptor >= 0 else { return }
            if let token = self.watched { self.eventLoop.unwatch(self.descriptor, token: token) }
            self.poller?.remove(self.descriptor)
            self.watched = nil
            self.poller = nil
            Glibc.close(self.descriptor)
            self.descriptor = -1
            // The handlers hold the leg that holds this socket: let go of them.
            self.onDatagram = { _, _ in }
            self.fastPath = nil
            self.timer.onFire = {}
        }.get()
    }

    /// Reads what is queued on the socket (the loop or the poller found it readable): recvmmsg
    /// into the loop's receive batch until the kernel has no more, each datagram to the handler.
    func readable() {
        let batch = eventLoop.batch
        while descriptor >= 0 {
            let count = Int(tandem_receive_batch(descriptor, batch, CUnsignedInt(MediaLoop.batchSize)))
            guard count > 0 else { return }
            for index in 0..<count {
                // A datagram larger than the buffer is truncated: no media packet is that long,
                // and the leg's parsers reject what is left.
                let length = batch[index].length
                let source = withUnsafePointer(to: &batch[index].source) { source in
                    address(fromRaw: UnsafeRawPointer(source), length: Int(batch[index].source_length))
                }
                guard let source else { continue }
                let buffer = UnsafeMutableRawBufferPointer(start: batch[index].buffer, count: MediaLoop.datagramCapacity)
                if fastPath?(buffer, length, source) != true {
                    onDatagram([UInt8](UnsafeRawBufferPointer(rebasing: buffer[..<length])), source)
                }
                // The handler may have closed this very socket.
                if descriptor < 0 { return }
            }
            if count < MediaLoop.batchSize { return }
        }
    }

    /// A datagram's source as an address, from the raw one the kernel gave (the last one is kept).
    private func address(fromRaw name: UnsafeRawPointer, length: Int) -> SocketAddress? {
        if let cached = lastSourceAddress, length == lastSourceLength,
            withUnsafeBytes(of: &lastSource, { memcmp($0.baseAddress!, name, length) == 0 }) {
            return cached
        }
        guard let address = Self.address(name, length: length) else { return nil }
        withUnsafeMutableBytes(of: &lastSource) { $0.baseAddress!.copyMemory(from: name, byteCount: min(length, $0.count)) }
        lastSourceLength = length
        lastSourceAddress = address
        return address
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
