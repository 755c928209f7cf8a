// Call detail records: one JSON object per line for every call attempt, refused ones included, appended to the configured
// file. The file is opened for appending at start and again at every reload, so log rotation
// (move the file, then SIGHUP or `tandemctl reload`) loses nothing.

import Control
import Foundation
import Gateway
import NIOCore

/// One ended call as written to the CDR file.
struct CallDetailRecord: Encodable {
    struct Leg: Encodable {
        var side: String
        var codec: String
        var packetsReceived: Int
        var packetsSent: Int
        var lost: Int?
        var lossPercent: Double?
        var jitterMilliseconds: Double?
        var roundTripMilliseconds: Double?
        var mos: Double?
        var srtpProfile: String?
    }

    var callId: String
    /// The caller's own Call-ID, as its SIP trace shows it.
    var sipCallId: String
    var node: String
    var from: String
    var caller: String
    var callee: String
    var trunk: String?
    var start: Date
    var answer: Date?
    var end: Date
    var durationSeconds: Double
    var talkSeconds: Double
    var endedBy: String
    var endReason: String
    /// For a call ended by a media failure, the cause's stable label (`ice_consent_expired`...).
    var endCause: String?
    /// `answered`, `cancelled`, or the final status as text; and that status (200 when answered).
    var result: String
    var sipStatus: Int?
    /// True for an attempt refused before it became a call.
    var refused: Bool
    var source: String
    var route: String?
    var media: String?
    var legs: [Leg]
}

final class CDRWriter {
    private var handle: FileHandle?
    private(set) var path: String?
    private let encoder: JSONEncoder

    init() {
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
    }

    /// Opens `path` for appending (creating it, mode 0640), closing the previous file; nil
    /// turns CDRs off. Throws when the file cannot be opened.
    func open(_ path: String?) throws {
        try? handle?.close()
        handle = nil
        self.path = path
        guard let path else { return }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        self.handle = handle
    }

    func write(_ record: CallDetailRecord) throws {
        guard let handle else { return }
        var line = try encoder.encode(record)
        line.append(UInt8(ascii: "\n"))
        try handle.write(contentsOf: line)
    }

    static func record(_ call: CallRecord, media: MediaCallInfo?, legs: [LegDetail], node: String, date: (NIODeadline) -> Date) -> CallDetailRecord {
        let start = date(call.startedAt)
        let end = call.endedAt.map(date) ?? Date()
        let answer = call.answeredAt.map(date)
        return CallDetailRecord(
            callId: call.id, sipCallId: call.sipCallID, node: node, from: call.from.rawValue, caller: call.caller, callee: call.callee, trunk: call.trunk,
            start: start, answer: answer, end: end, durationSeconds: (end.timeIntervalSince(start) * 1000).rounded() / 1000,
            talkSeconds: answer.map { (end.timeIntervalSince($0) * 1000).rounded() / 1000 } ?? 0,
            endedBy: call.endedBy ?? "tandem", endReason: call.endReason ?? "", endCause: call.endCause, result: call.result, sipStatus: call.status,
            refused: call.refused, source: call.source, route: call.route, media: media?.mode,
            legs: legs.map {
                CallDetailRecord.Leg(side: $0.side, codec: $0.codec, packetsReceived: $0.received.packets, packetsSent: $0.sent.packets,
                                     lost: $0.received.lost, lossPercent: $0.received.lossFraction.map { ($0 * 10000).rounded() / 100 },
                                     jitterMilliseconds: $0.received.jitterMilliseconds.map { ($0 * 100).rounded() / 100 },
                                     roundTripMilliseconds: $0.roundTripMilliseconds.map { ($0 * 100).rounded() / 100 },
                                     mos: $0.mos.map { ($0 * 100).rounded() / 100 }, srtpProfile: $0.srtpProfile)
            })
    }
}
