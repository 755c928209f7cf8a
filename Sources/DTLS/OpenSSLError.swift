// Errors from OpenSSL's thread-local error queue, turned into Swift values. Every call into
// libssl/libcrypto that can fail is preceded by ERR_clear_error() and followed, on failure, by
// draining the queue into a DTLSError (the queue is per thread, so a stale entry from another
// call must never be blamed on this one).

import COpenSSL

/// Why a DTLS or certificate operation failed.
public struct DTLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being done, e.g. "cannot load the private key".
    public var reason: String
    /// OpenSSL's error queue at the time, oldest first ("error:0A000086:SSL routines::...").
    public var openSSLErrors: [String]

    public init(_ reason: String, openSSLErrors: [String] = []) {
        self.reason = reason
        self.openSSLErrors = openSSLErrors
    }

    /// `reason` with the error queue drained from the current thread.
    static func fromQueue(_ reason: String) -> DTLSError {
        DTLSError(reason, openSSLErrors: OpenSSLErrorQueue.drain())
    }

    public var description: String {
        openSSLErrors.isEmpty ? reason : "\(reason): \(openSSLErrors.joined(separator: "; "))"
    }
}

enum OpenSSLErrorQueue {
    /// Empties the calling thread's error queue and returns its entries as text.
    static func drain() -> [String] {
        var entries: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var text = [CChar](repeating: 0, count: 256)
            text.withUnsafeMutableBufferPointer { ERR_error_string_n(code, $0.baseAddress, $0.count) }
            entries.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return entries
    }
}
