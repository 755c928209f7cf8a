// Debian's rtpengine under the same load, in userspace (--table=-1: no kernel forwarding), set up
// through its ng control protocol (bencoded dictionaries over UDP, RFC-less but documented by
// the project): `offer` with the browser's SDP, asking for plain RTP/AVP PCMU without ICE or
// DTLS toward the trunk (Opus stripped and PCMU transcoded in for transcoded runs), then `answer`
// with the trunk's SDP, whose result goes back to the browser, which does ICE and DTLS with
// rtpengine exactly as with Tandem.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

indirect enum Bencode: Equatable {
    case string([UInt8])
    case integer(Int)
    case list([Bencode])
    case dictionary([(String, Bencode)])

    static func == (a: Bencode, b: Bencode) -> Bool { a.encoded == b.encoded }

    static func text(_ value: String) -> Bencode { .string(Array(value.utf8)) }
    static func texts(_ values: [String]) -> Bencode { .list(values.map(text)) }

    var encoded: [UInt8] {
        switch self {
        case .string(let bytes): return Array("\(bytes.count):".utf8) + bytes
        case .integer(let value): return Array("i\(value)e".utf8)
        case .list(let items): return [UInt8(ascii: "l")] + items.flatMap(\.encoded) + [UInt8(ascii: "e")]
        case .dictionary(let pairs):
            let sorted = pairs.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
            return [UInt8(ascii: "d")] + sorted.flatMap { Bencode.text($0.0).encoded + $0.1.encoded } + [UInt8(ascii: "e")]
        }
    }

    static func decode(_ bytes: [UInt8]) throws -> Bencode {
        var position = 0
        return try decode(bytes, &position)
    }

    private static func decode(_ bytes: [UInt8], _ position: inout Int) throws -> Bencode {
        guard position < bytes.count else { throw LoadError("bencode: truncated") }
        switch bytes[position] {
        case UInt8(ascii: "i"):
            guard let end = bytes[position...].firstIndex(of: UInt8(ascii: "e")), let value = Int(String(decoding: bytes[(position + 1)..<end], as: UTF8.self))
            else { throw LoadError("bencode: bad integer") }
            position = end + 1
            return .integer(value)
        case UInt8(ascii: "l"):
            position += 1
            var items: [Bencode] = []
            while position < bytes.count, bytes[position] != UInt8(ascii: "e") { items.append(try decode(bytes, &position)) }
            position += 1
            return .list(items)
        case UInt8(ascii: "d"):
            position += 1
            var pairs: [(String, Bencode)] = []
            while position < bytes.count, bytes[position] != UInt8(ascii: "e") {
                guard case .string(let key) = try decode(bytes, &position) else { throw LoadError("bencode: key is not a string") }
                pairs.append((String(decoding: key, as: UTF8.self), try decode(bytes, &position)))
            }
            position += 1
            return .dictionary(pairs)
        default:
            guard let colon = bytes[position...].firstIndex(of: UInt8(ascii: ":")),
                let length = Int(String(decoding: bytes[position..<colon], as: UTF8.self)), colon + 1 + length <= bytes.count
            else { throw LoadError("bencode: bad string") }
            position = colon + 1 + length
            return .string(Array(bytes[(colon + 1)..<position]))
        }
    }

    subscript(key: String) -> Bencode? {
        guard case .dictionary(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    var stringValue: String? {
        guard case .string(let bytes) = self else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

final class RTPEngineGateway {
    let process = Process()
    let control: UDPSocket
    let ngPort: UInt16
    private let logPath: String
    private var callIDs: [(String, String)] = []

    init(binary: String = "/usr/bin/rtpengine") throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw LoadError("\(binary) is missing: apt-get install rtpengine-daemon (make bench installs it)")
        }
        control = try UDPSocket()
        ngPort = try freeUDPPort()
        logPath = NSTemporaryDirectory() + "rtpengine-load-\(UUID().uuidString.prefix(8)).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config-file=none", "--table=-1", "--foreground", "--log-stderr", "--log-level=4",
            "--interface=127.0.0.1", "--listen-ng=127.0.0.1:\(ngPort)", "--port-min=30000", "--port-max=31999",
            "--timeout=60",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// One ng request and its reply (retried: it is UDP).
    func request(_ pairs: [(String, Bencode)]) throws -> Bencode {
        let cookie = randomToken(10)
        let message = Array((cookie + " ").utf8) + Bencode.dictionary(pairs).encoded
        for _ in 0..<5 {
            control.send(message, to: loopbackAddress(port: ngPort))
            let deadline = Date().addingTimeInterval(2)
            while Date() < deadline {
                guard let (reply, _) = control.receive(timeoutMilliseconds: 200) else { continue }
                guard let space = reply.firstIndex(of: UInt8(ascii: " ")), String(decoding: reply[..<space], as: UTF8.self) == cookie else { continue }
                let body = try Bencode.decode(Array(reply[(space + 1)...]))
                guard let result = body["result"]?.stringValue, result == "ok" || result == "pong" else {
                    throw LoadError("rtpengine: \(body["result"]?.stringValue ?? "?"): \(body["error-reason"]?.stringValue ?? "")")
                }
                return body
            }
        }
        throw LoadError("rtpengine does not answer on its ng port")
    }

    func waitUntilReady() throws {
        let deadline = Date().addingTimeInterval(20)
        while true {
            if (try? request([("command", .text("ping"))])) != nil { return }
            guard process.isRunning, Date() < deadline else { throw LoadError("rtpengine did not start: \(log.suffix(2000))") }
        }
    }

    /// offer (browser -> trunk) and answer (trunk -> browser); returns the browser's answer.
    func place(_ call: LoadCall) throws -> String {
        let callID = "load-\(call.index)-\(UInt32.random(in: 1...UInt32.max))"
        let fromTag = "b\(call.index)"
        var offer: [(String, Bencode)] = [
            ("command", .text("offer")), ("call-id", .text(callID)), ("from-tag", .text(fromTag)),
            ("sdp", .text(call.browserOffer)),
            ("transport-protocol", .text("RTP/AVP")), ("ICE", .text("remove")), ("DTLS", .text("off")),
            ("rtcp-mux", .texts(["demux"])), ("replace", .texts(["origin", "session-connection"])),
        ]
        if call.mode == .transcoded {
            offer.append(("codec", .dictionary([("strip", .texts(["opus"])), ("transcode", .texts(["PCMU"]))])))
        }
        let trunkOffer = try request(offer)
        guard let trunkSDP = trunkOffer["sdp"]?.stringValue else { throw LoadError("rtpengine: no SDP in the offer's reply") }
        try call.trunkRemote(from: trunkSDP)
        let answer = try request([
            ("command", .text("answer")), ("call-id", .text(callID)), ("from-tag", .text(fromTag)), ("to-tag", .text("t\(call.index)")),
            ("sdp", .text(call.trunkAnswer)), ("replace", .texts(["origin", "session-connection"])),
        ])
        guard let browserSDP = answer["sdp"]?.stringValue else { throw LoadError("rtpengine: no SDP in the answer's reply") }
        callIDs.append((callID, fromTag))
        return browserSDP
    }

    func hangUpAll() {
        for (callID, fromTag) in callIDs {
            _ = try? request([("command", .text("delete")), ("call-id", .text(callID)), ("from-tag", .text(fromTag))])
        }
        callIDs.removeAll()
    }

    func shutdown() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: logPath)
    }
}
