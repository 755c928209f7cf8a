// A custom OpenSSL BIO method with datagram semantics over Swift buffers (RFC 6347 §4.1.1: each
// DTLS record travels in one datagram; a datagram may carry several records). OpenSSL 3.0 has no
// BIO_s_dgram_mem, and a plain memory BIO would merge the records of a flight into one byte
// stream, so the read BIO hands OpenSSL exactly one received datagram per read and the write BIO
// keeps every write as its own datagram. During a handshake OpenSSL's buffering BIO packs the
// records of a flight and flushes before the next record would pass the MTU, so a write is one or
// more whole records within the MTU; outside a handshake each record is one write.

import COpenSSL
import CTandemShims

/// The Swift side of the two BIOs: what the engine fed in, what OpenSSL wrote out.
final class DatagramPipe {
    /// Datagrams waiting to be read by OpenSSL, oldest first.
    var inbound: [[UInt8]] = []
    /// Datagrams OpenSSL wrote, oldest first.
    var outbound: [[UInt8]] = []

    func takeOutbound() -> [[UInt8]] {
        defer { outbound.removeAll(keepingCapacity: true) }
        return outbound
    }
}

/// The BIO_METHOD, created once per process and never freed.
final class DatagramBIOMethod: @unchecked Sendable {
    static let shared = DatagramBIOMethod()

    /// BIO_METHOD*, or nil when OpenSSL could not allocate it.
    let method: OpaquePointer?

    private init() {
        let type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK
        guard let method = BIO_meth_new(type, "tandem datagram") else {
            self.method = nil
            return
        }
        BIO_meth_set_create(method) { bio in
            BIO_set_init(bio, 1)
            return 1
        }
        BIO_meth_set_destroy(method) { bio in
            BIO_set_data(bio, nil)
            return 1
        }
        BIO_meth_set_write(method) { bio, data, length in
            guard let bio, let pipe = DatagramBIOMethod.pipe(of: bio) else { return -1 }
            tandem_bio_clear_retry_flags(bio)
            guard let data, length > 0 else { return 0 }
            pipe.outbound.append(Array(UnsafeRawBufferPointer(start: data, count: Int(length))))
            return length
        }
        BIO_meth_set_read(method) { bio, buffer, capacity in
            guard let bio, let pipe = DatagramBIOMethod.pipe(of: bio) else { return -1 }
            tandem_bio_clear_retry_flags(bio)
            guard !pipe.inbound.isEmpty else {
                tandem_bio_set_retry_read(bio)
                return -1
            }
            let datagram = pipe.inbound.removeFirst()
            // Datagram semantics: what does not fit is lost, as with recvfrom.
            let count = min(datagram.count, Int(max(capacity, 0)))
            if let buffer, count > 0 {
                datagram.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: count) }
            }
            return Int32(count)
        }
        BIO_meth_set_ctrl(method) { bio, command, _, _ in
            switch command {
            case BIO_CTRL_FLUSH: return 1
            case BIO_CTRL_PENDING:
                guard let bio, let pipe = DatagramBIOMethod.pipe(of: bio) else { return 0 }
                return pipe.inbound.first.map { Int($0.count) } ?? 0
            case BIO_CTRL_WPENDING: return 0
            case BIO_CTRL_DGRAM_QUERY_MTU, BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: return 0
            default: return 0
            }
        }
        self.method = method
    }

    private static func pipe(of bio: OpaquePointer) -> DatagramPipe? {
        guard let data = BIO_get_data(bio) else { return nil }
        return Unmanaged<DatagramPipe>.fromOpaque(data).takeUnretainedValue()
    }

    /// A new BIO over `pipe`. The BIO does not retain the pipe: its owner must outlive it.
    func makeBIO(over pipe: DatagramPipe) -> OpaquePointer? {
        guard let method, let bio = BIO_new(method) else { return nil }
        BIO_set_data(bio, Unmanaged.passUnretained(pipe).toOpaque())
        return bio
    }
}
